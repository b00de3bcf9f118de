// Package bench holds hallmark's benchmarks that span packages: signing and
// verifying one image against the embedded registry on loopback. The
// whole-process comparison with the notation CLI is cli.sh beside this file.
// Results, with the command and the machine, go in docs/benchmarks.md.
package bench
