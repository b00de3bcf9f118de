package admission

import "context"

// maxParallel bounds the verifications or resolutions one request runs at
// once. Pods rarely have more than a few images, so this only bites on an
// object built to flood the registries; those images wait their turn and,
// if the deadline passes first, fail as not verified in time.
const maxParallel = 16

// outcome carries the result of item i.
type outcome[T any] struct {
	i int
	v T
}

// runAll runs work(ctx, i) for i in [0, n), at most maxParallel at a time,
// and returns when all have finished or ctx is done, whichever comes first.
// done[i] reports whether out[i] holds a result. A panic in work is
// recovered and replaced by recovered(i, value), called in the panicking
// goroutine so that it can capture the stack.
//
// Work still running when ctx is done is abandoned, not waited for: it
// holds ctx, so a well-behaved worker stops soon, and its late result goes
// into a buffered channel that nobody reads.
func runAll[T any](ctx context.Context, n int, work func(ctx context.Context, i int) T, recovered func(i int, p any) T) (out []T, done []bool) {
	out = make([]T, n)
	done = make([]bool, n)
	if n == 0 {
		return out, done
	}
	results := make(chan outcome[T], n)
	slots := make(chan struct{}, maxParallel)
	for i := range n {
		go func() {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-slots }()
			if ctx.Err() != nil {
				return // the deadline passed while waiting for a slot
			}
			var v T
			defer func() {
				if p := recover(); p != nil {
					v = recovered(i, p)
				}
				results <- outcome[T]{i, v}
			}()
			v = work(ctx, i)
		}()
	}
	for received := 0; received < n; received++ {
		select {
		case o := <-results:
			out[o.i], done[o.i] = o.v, true
		case <-ctx.Done():
			// Keep what already arrived: a result that raced the deadline
			// is still a result.
			for {
				select {
				case o := <-results:
					out[o.i], done[o.i] = o.v, true
				default:
					return out, done
				}
			}
		}
	}
	return out, done
}
