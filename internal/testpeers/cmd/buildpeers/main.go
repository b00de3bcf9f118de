// Command buildpeers builds the test peers (notation, the distribution
// registry, oras) into their cache folder and prints where, so CI pays for the
// build once, in a step of its own. With -ratify it also builds Ratify, which
// takes minutes, and prints the path of its binary on a line of its own; with
// -cosign it builds the cosign CLI (tools/cosign) the same way.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/hallmark-dev/hallmark/internal/testpeers"
)

func main() {
	ratify := flag.Bool("ratify", false, "also build Ratify v1.4.6 (tools/ratify) and print its path")
	cosign := flag.Bool("cosign", false, "also build cosign v2.6.5 (tools/cosign) and print its path")
	flag.Parse()
	dir, err := testpeers.Build()
	if err != nil {
		fmt.Fprintln(os.Stderr, "buildpeers:", err)
		os.Exit(1)
	}
	fmt.Println(dir)
	if *ratify {
		bin, err := testpeers.BuildRatify()
		if err != nil {
			fmt.Fprintln(os.Stderr, "buildpeers:", err)
			os.Exit(1)
		}
		fmt.Println(bin)
	}
	if *cosign {
		bin, err := testpeers.BuildCosign()
		if err != nil {
			fmt.Fprintln(os.Stderr, "buildpeers:", err)
			os.Exit(1)
		}
		fmt.Println(bin)
	}
}
