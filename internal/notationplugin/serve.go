// Package notationplugin connects hallmark and the Notary Project plugin
// protocol (notation-plugin-framework-go, contract 1.0) both ways:
//
//   - Serve runs the protocol for the notation-hallmark plugin binary, so the
//     notation CLI signs with keys that hallmark holds (local store or PKCS#11
//     token): notation sign --plugin hallmark --id KEY.
//   - NewSigner finds an installed notation plugin where notation looks for
//     it and drives it through notation-go's CLI plugin manager, so hallmark
//     signs with any plugin (azure-kv, aws-signer, notation-hallmark ...):
//     hallmark sign --plugin NAME --id KEY_ID.
package notationplugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/notaryproject/notation-plugin-framework-go/plugin"

	"github.com/hallmark-dev/hallmark/internal/capped"
)

// maxRequestSize caps a request read from stdin. The largest is
// generate-signature, whose payload is a JWS signing input or COSE
// Sig_structure: a descriptor and the signed attributes, a few KiB even with
// generous user metadata. 4 MiB leaves room and still refuses a runaway
// writer.
const maxRequestSize = 4 << 20

// Serve runs one plugin command: args[0] is the command, the JSON request is
// read from stdin, and the response goes to stdout with exit code 0. On
// failure a JSON error ({"errorCode", "errorMessage"}) goes to stderr with exit
// code 1, as the protocol says. It supports the SIGNATURE_GENERATOR.RAW
// commands (get-plugin-metadata, describe-key, generate-signature).
func Serve(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, p plugin.SignPlugin) int {
	resp, perr := dispatch(ctx, args, stdin, p)
	if perr == nil {
		out, err := json.Marshal(resp)
		if err == nil {
			if _, err = stdout.Write(out); err == nil {
				return 0
			}
		}
		perr = plugin.NewGenericErrorf("writing the response: %v", err)
	}
	out, _ := json.Marshal(perr)
	stderr.Write(out)
	return 1
}

func dispatch(ctx context.Context, args []string, stdin io.Reader, p plugin.SignPlugin) (any, *plugin.Error) {
	if len(args) != 1 {
		return nil, plugin.NewValidationErrorf("expected exactly one argument, the command (%s, %s or %s); got %d",
			plugin.CommandGetMetadata, plugin.CommandDescribeKey, plugin.CommandGenerateSignature, len(args))
	}
	read := func(req interface{ Validate() error }) *plugin.Error {
		data, err := capped.Read(stdin, maxRequestSize)
		if err != nil {
			return plugin.NewValidationErrorf("reading the request: %v", err)
		}
		if err := json.Unmarshal(data, req); err != nil {
			return plugin.NewJSONParsingError(plugin.ErrorMsgMalformedInput)
		}
		if err := req.Validate(); err != nil {
			return asPluginError(err)
		}
		return nil
	}
	switch cmd := plugin.Command(args[0]); cmd {
	case plugin.CommandGetMetadata:
		var req plugin.GetMetadataRequest
		if err := read(&req); err != nil {
			return nil, err
		}
		resp, err := p.GetMetadata(ctx, &req)
		return resp, asPluginError(err)
	case plugin.CommandDescribeKey:
		var req plugin.DescribeKeyRequest
		if err := read(&req); err != nil {
			return nil, err
		}
		if req.ContractVersion != plugin.ContractVersion {
			return nil, plugin.NewUnsupportedContractVersionError(req.ContractVersion)
		}
		resp, err := p.DescribeKey(ctx, &req)
		return resp, asPluginError(err)
	case plugin.CommandGenerateSignature:
		var req plugin.GenerateSignatureRequest
		if err := read(&req); err != nil {
			return nil, err
		}
		if req.ContractVersion != plugin.ContractVersion {
			return nil, plugin.NewUnsupportedContractVersionError(req.ContractVersion)
		}
		resp, err := p.GenerateSignature(ctx, &req)
		return resp, asPluginError(err)
	default:
		return nil, plugin.NewValidationErrorf("unsupported command %q: this plugin has the %s capability (%s, %s, %s)",
			cmd, plugin.CapabilitySignatureGenerator, plugin.CommandGetMetadata, plugin.CommandDescribeKey, plugin.CommandGenerateSignature)
	}
}

// asPluginError keeps a *plugin.Error as it is and makes any other error a
// generic one.
func asPluginError(err error) *plugin.Error {
	if err == nil {
		return nil
	}
	var pe *plugin.Error
	if errors.As(err, &pe) {
		return pe
	}
	return plugin.NewGenericError(fmt.Sprint(err))
}
