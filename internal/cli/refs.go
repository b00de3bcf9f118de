package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// maxStdinRefs caps the references read from standard input: a list far
// longer than any registry's worth of images is a mistake, such as a binary
// piped in.
const maxStdinRefs = 100000

// maxRefLine caps one line of that list.
const maxRefLine = 4096

// expandRefs replaces a "-" argument by the references on standard input,
// one a line; blank lines and lines starting with # are skipped. "-" may be
// given once. stdinUsed says whether standard input was read.
func expandRefs(in io.Reader, args []string) (refs []string, stdinUsed bool, err error) {
	for _, a := range args {
		if a != "-" {
			refs = append(refs, a)
			continue
		}
		if stdinUsed {
			return nil, true, usageError{fmt.Errorf(`"-" (references from standard input) may be given once`)}
		}
		stdinUsed = true
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 0, 1024), maxRefLine)
		n := 0
		for sc.Scan() {
			n++
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if len(refs) >= maxStdinRefs {
				return nil, true, fmt.Errorf("standard input holds more than %d references", maxStdinRefs)
			}
			refs = append(refs, line)
		}
		if err := sc.Err(); err != nil {
			return nil, true, fmt.Errorf("reading references from standard input, line %d: %w", n+1, err)
		}
	}
	if len(refs) == 0 {
		return nil, stdinUsed, usageError{fmt.Errorf("no image reference given (standard input had none)")}
	}
	return refs, stdinUsed, nil
}

// progress reports long work on a terminal, one line per step, and says
// nothing when standard error is a file or a pipe, so scripts and logs see
// only results.
type progress struct {
	w     io.Writer // nil: quiet
	total int
	done  int
}

// newProgress returns a progress for total steps on w; it is quiet unless w
// is a terminal and there is more than one step.
func newProgress(w io.Writer, total int) *progress {
	p := &progress{total: total}
	if total > 1 {
		p.w = terminalWriter(w)
	}
	return p
}

// terminalWriter returns w if it is a terminal, else nil.
func terminalWriter(w io.Writer) io.Writer {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return w
	}
	return nil
}

// step reports that the next step, what, begins.
func (p *progress) step(what string) {
	p.done++
	if p.w != nil {
		fmt.Fprintf(p.w, "[%d/%d] %s\n", p.done, p.total, what)
	}
}
