package notationplugin

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/notaryproject/notation-core-go/signature"
	"github.com/notaryproject/notation-go"
	"github.com/notaryproject/notation-go/dir"
	notationplugin "github.com/notaryproject/notation-go/plugin"
	"github.com/notaryproject/notation-go/plugin/proto"
	"github.com/notaryproject/notation-go/signer"
	"github.com/notaryproject/notation-plugin-framework-go/plugin"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ErrPlugin means a notation plugin is not installed, could not run, or did
// not answer as the plugin protocol says. The message names the plugin and
// what went wrong.
var ErrPlugin = errors.New("notation plugin failed")

// Dir returns the folder notation looks for plugins in: $NOTATION_LIBEXEC/plugins,
// else $NOTATION_CONFIG/plugins, else <user config dir>/notation/plugins, as
// the notation CLI does. getenv is os.Getenv in production.
func Dir(getenv func(string) string) (string, error) {
	if d := getenv("NOTATION_LIBEXEC"); d != "" {
		return filepath.Join(d, "plugins"), nil
	}
	if d := getenv("NOTATION_CONFIG"); d != "" {
		return filepath.Join(d, "plugins"), nil
	}
	c, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("%w: no folder to look for plugins in: set NOTATION_LIBEXEC or NOTATION_CONFIG (%v)", ErrPlugin, err)
	}
	return filepath.Join(c, "notation", "plugins"), nil
}

// NewSigner finds the notation plugin name in pluginDir, checks that it
// answers get-plugin-metadata with a signing capability, and returns a
// notation.Signer that signs with its key keyID, passing config to every
// command. Errors wrap ErrPlugin and say whether the plugin is missing,
// crashed, or printed something other than a protocol response.
func NewSigner(ctx context.Context, pluginDir, name, keyID string, config map[string]string) (notation.Signer, error) {
	if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return nil, fmt.Errorf("%w: %q is not a plugin name", ErrPlugin, name)
	}
	if keyID == "" {
		return nil, fmt.Errorf("%w: no key ID for plugin %s: pass --id", ErrPlugin, name)
	}
	mgr := notationplugin.NewCLIManager(dir.NewSysFS(pluginDir))
	p, err := mgr.Get(ctx, name)
	if err != nil {
		bin := filepath.Join(pluginDir, name, "notation-"+name)
		if errors.Is(err, fs.ErrNotExist) {
			installed, _ := mgr.List(ctx)
			have := "no plugins are installed there"
			if len(installed) > 0 {
				have = "installed: " + strings.Join(installed, ", ")
			}
			return nil, fmt.Errorf("%w: no plugin %q: %s does not exist (%s)", ErrPlugin, name, bin, have)
		}
		return nil, fmt.Errorf("%w: plugin %q at %s: %v", ErrPlugin, name, bin, err)
	}
	meta, err := p.GetMetadata(ctx, &plugin.GetMetadataRequest{PluginConfig: config})
	if err != nil {
		return nil, describe(name, plugin.CommandGetMetadata, err)
	}
	if !meta.HasCapability(plugin.CapabilitySignatureGenerator) && !meta.HasCapability(plugin.CapabilityEnvelopeGenerator) {
		return nil, fmt.Errorf("%w: plugin %s cannot sign: its capabilities are %v", ErrPlugin, name, meta.Capabilities)
	}
	s, err := signer.NewPluginSigner(p, keyID, config)
	if err != nil {
		return nil, fmt.Errorf("%w: plugin %s: %v", ErrPlugin, name, err)
	}
	return &describingSigner{PluginSigner: s, name: name}, nil
}

// describingSigner rewrites the plugin errors notation-go returns into
// messages that say which plugin failed and how. It passes on the plugin's
// signature manifest annotations, which notation.Sign asks signers for.
type describingSigner struct {
	*signer.PluginSigner
	name string
}

func (d *describingSigner) Sign(ctx context.Context, desc ocispec.Descriptor, opts notation.SignerSignOptions) ([]byte, *signature.SignerInfo, error) {
	env, info, err := d.PluginSigner.Sign(ctx, desc, opts)
	if err != nil {
		return nil, nil, describe(d.name, "signing", err)
	}
	return env, info, nil
}

// describe explains an error from running a plugin.
func describe(name string, what any, err error) error {
	var exe *notationplugin.PluginExecutableFileError
	var malformed *notationplugin.PluginMalformedError
	var reqErr proto.RequestError
	switch {
	case errors.As(err, &exe):
		return fmt.Errorf("%w: plugin %s (%s) did not run to completion and wrote no error: %v", ErrPlugin, name, what, exe.InnerError)
	case errors.As(err, &malformed):
		return fmt.Errorf("%w: plugin %s (%s) printed something that is not a plugin protocol response: %v", ErrPlugin, name, what, err)
	case errors.As(err, &reqErr):
		return fmt.Errorf("%w: plugin %s (%s) refused: %s: %s", ErrPlugin, name, what, reqErr.Code, reqErr.Error())
	}
	return fmt.Errorf("%w: plugin %s (%s): %v", ErrPlugin, name, what, err)
}
