// Command buildpeers builds the test peers (notation, the distribution
// registry, oras) into their cache folder and prints where, so CI pays for the
// build once, in a step of its own.
package main

import (
	"fmt"
	"os"

	"github.com/hallmark-dev/hallmark/internal/testpeers"
)

func main() {
	dir, err := testpeers.Build()
	if err != nil {
		fmt.Fprintln(os.Stderr, "buildpeers:", err)
		os.Exit(1)
	}
	fmt.Println(dir)
}
