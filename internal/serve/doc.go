// Package serve is hallmark's admission runtime: it turns configuration
// generations into a running admission server. It owns building (registry
// client, verification engine, result cache and admitter from a
// config.Config), the swap from one generation to the next, reloads, the
// periodic trust refresh, the route table, the request metrics around it,
// and the periodic audit of running workloads (Events, Lease election).
// `hallmark serve` parses flags into a Source and calls Run; `hallmark demo`
// mounts the same runtime through Start and Runtime.NewServer.
//
// # Configuration sources
//
// A Source yields the configuration to serve. FileSource (a YAML file, the
// files it names, and the flags laid over it) is the first; a source that
// reads cluster resources plugs in the same way, without touching the CLI.
// The contract:
//
//   - Load returns the configuration as the source holds it now, with
//     defaults applied and Validate passed. It may be called at any time and
//     from any goroutine, and its result is never modified afterwards (the
//     runtime keeps it as the generation's configuration). An error means
//     "no usable configuration right now": at start it fails the start,
//     unless the source is a PendingSource (then the runtime serves, not
//     ready and verifying nothing, and retries on the watch and on a
//     back-off until a generation is in force); on a reload it is logged,
//     counted as a rejected reload, and the configuration in force stays.
//   - Watch starts watching and returns at once. From its return until ctx
//     is done it calls changed whenever what Load returns may have changed.
//     A call may be spurious, and a burst of changes may be reported once;
//     the runtime calls Load after each call and builds a new generation.
//     changed may be called from any goroutine; the runtime serializes the
//     reloads. Watch is called once, after the first Load and before the
//     first generation is built from it, so that a change made while the
//     first generation is built is not missed (at worst it is built twice).
//
// A new generation is built completely before it is put in force: a
// request sees one configuration from start to end, and no verdict cached
// under an old generation is ever served under a new one (the cache is
// per generation). A generation that fails to build leaves the previous
// one in force.
//
// # What this package must not import
//
// internal/cli and internal/demo (the dependency points the other way) and
// cobra (serve/deps_test.go). It links the key providers, through
// keys/providers and keys/local, only to read the certificates of the keys a
// configuration's trust stores name.
package serve
