package ratify

import (
	"fmt"
	"reflect"
	"testing"
)

// A Store's authProvider endpoints reach the Azure credentials themselves,
// not only the registries entry: the credentials default to ACR's hosts
// and would leave a registry the endpoints name anonymous. With useHttp,
// the authProvider's entry (the first to match its hosts) is plain HTTP
// too, as useHttp is for every registry in Ratify.
func TestStoreAuthProviderEndpoints(t *testing.T) {
	const store = `apiVersion: config.ratify.deislabs.io/v1beta1
kind: Store
metadata:
  name: store-oras
spec:
  name: oras
  parameters:
%s    authProvider:
      name: azureWorkloadIdentity
      clientID: 1b3b2c4d-0000-4000-8000-000000000001
      endpoints: ["registry.example:5000", "*.corp.example"]
`
	for _, tc := range []struct {
		name, useHTTP string
		plain         bool
	}{
		{"https", "", false},
		{"useHttp", "    useHttp: true\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := convertText(t, fmt.Sprintf(store, tc.useHTTP)+"---\n"+inlineKMP(t)+"---\n"+verifierDoc)
			if res.Config == nil || len(res.Config.Registries) == 0 {
				t.Fatalf("no registries: %+v", res.Problems)
			}
			r := res.Config.Registries[0]
			want := []string{"registry.example:5000", "*.corp.example"}
			if r.Credentials.Azure == nil || !reflect.DeepEqual(r.Hosts, want) || !reflect.DeepEqual(r.Credentials.Azure.Endpoints, want) {
				t.Fatalf("registries[0] = %+v (azure %+v); want hosts and azure.endpoints %v", r, r.Credentials.Azure, want)
			}
			for i, r := range res.Config.Registries {
				if r.PlainHTTP != tc.plain {
					t.Errorf("registries[%d] %v: plainHTTP %v, want %v", i, r.Hosts, r.PlainHTTP, tc.plain)
				}
			}
		})
	}
}
