package devregistry

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	orascontent "oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote"
)

// SampleLabelKey is the image-config label that carries a sample image's
// label, so a person inspecting the image sees where it came from.
const SampleLabelKey = "dev.hallmark.sample"

// sampleFile is the one file in the sample image's layer.
const sampleFile = "hallmark-sample.txt"

// sampleCreated is the fixed creation time of every sample image: with no
// clock in the content, the same label always gives the same digest.
var sampleCreated = time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC)

// PushSampleImage builds the sample image for label (see PushSampleImageTo)
// and pushes it to host/repository over plain HTTP without credentials, as
// the dev registry expects. If tag is not empty the image is tagged with it.
// It returns the image manifest's descriptor.
func PushSampleImage(ctx context.Context, host, repository, tag, label string) (ocispec.Descriptor, error) {
	repo, err := remote.NewRepository(host + "/" + repository)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("sample image: %w", err)
	}
	repo.PlainHTTP = true
	repo.Client = http.DefaultClient
	return PushSampleImageTo(ctx, repo, tag, label)
}

// PushSampleImageTo pushes a tiny but valid OCI image into target: an image
// config for linux/amd64 and one gzip-compressed tar layer holding a single
// file whose content is label. Different labels give different digests; the
// same label always gives the same digest. Use it with any oras target, for
// example a remote.Repository that carries credentials.
func PushSampleImageTo(ctx context.Context, target oras.Target, tag, label string) (ocispec.Descriptor, error) {
	layer, diffID, err := sampleLayer(label)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("sample image: build layer: %w", err)
	}
	layerDesc, err := pushBlob(ctx, target, ocispec.MediaTypeImageLayerGzip, layer)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("sample image: push layer: %w", err)
	}

	config, err := json.Marshal(ocispec.Image{
		Created:  &sampleCreated,
		Platform: ocispec.Platform{Architecture: "amd64", OS: "linux"},
		Config: ocispec.ImageConfig{
			Labels: map[string]string{SampleLabelKey: label},
		},
		RootFS: ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{diffID}},
	})
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("sample image: encode config: %w", err)
	}
	configDesc, err := pushBlob(ctx, target, ocispec.MediaTypeImageConfig, config)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("sample image: push config: %w", err)
	}

	manifest, err := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    configDesc,
		Layers:    []ocispec.Descriptor{layerDesc},
	})
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("sample image: encode manifest: %w", err)
	}
	var desc ocispec.Descriptor
	if tag == "" {
		desc, err = pushBlob(ctx, target, ocispec.MediaTypeImageManifest, manifest)
	} else {
		desc, err = oras.TagBytes(ctx, target, ocispec.MediaTypeImageManifest, manifest, tag)
	}
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("sample image: push manifest: %w", err)
	}
	return desc, nil
}

// sampleLayer returns a gzip-compressed tar holding sampleFile with label as
// its content, and the digest of the uncompressed tar (the config's diff ID).
// Headers carry fixed times so the bytes depend on label alone.
func sampleLayer(label string) ([]byte, digest.Digest, error) {
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	content := []byte(label + "\n")
	if err := tw.WriteHeader(&tar.Header{
		Typeflag: tar.TypeReg,
		Name:     sampleFile,
		Mode:     0o644,
		Size:     int64(len(content)),
		ModTime:  sampleCreated,
		Format:   tar.FormatPAX,
	}); err != nil {
		return nil, "", err
	}
	if _, err := tw.Write(content); err != nil {
		return nil, "", err
	}
	if err := tw.Close(); err != nil {
		return nil, "", err
	}

	var gzBuf bytes.Buffer
	zw := gzip.NewWriter(&gzBuf)
	if _, err := zw.Write(tarBuf.Bytes()); err != nil {
		return nil, "", err
	}
	if err := zw.Close(); err != nil {
		return nil, "", err
	}
	return gzBuf.Bytes(), digest.FromBytes(tarBuf.Bytes()), nil
}

// pushBlob pushes content, treating "already there" as success: sample images
// share nothing secret, and pushing the same label twice is a normal thing
// for a quickstart to do.
func pushBlob(ctx context.Context, target oras.Target, mediaType string, content []byte) (ocispec.Descriptor, error) {
	desc := orascontent.NewDescriptorFromBytes(mediaType, content)
	err := target.Push(ctx, desc, bytes.NewReader(content))
	if err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
		return ocispec.Descriptor{}, err
	}
	return desc, nil
}
