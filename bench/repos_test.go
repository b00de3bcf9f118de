package bench

import (
	"context"

	notationregistry "github.com/notaryproject/notation-go/registry"

	"github.com/hallmark-dev/hallmark/internal/oci"
)

// repos hands the engine repositories from hallmark's registry client.
type repos struct{ c *oci.Client }

func (r repos) NotationRepository(ctx context.Context, ref string) (notationregistry.Repository, error) {
	repo, err := r.c.NotationRepository(ctx, ref)
	if err != nil {
		return nil, err
	}
	return repo, nil
}
