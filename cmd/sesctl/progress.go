package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// isTerminal reports whether stream is an *os.File on a terminal.
func isTerminal(stream any) bool {
	f, ok := stream.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progress is a progress bar on stderr, or nothing when stderr is not a
// terminal; every method is safe on a nil *progress.
type progress struct {
	bar *progressbar.ProgressBar
}

// progress returns a bar counting to total (a spinner when total < 0)
// labelled what, or nil when stderr is not a terminal.
func (a *app) progress(total int64, what string, bytes bool) *progress {
	if !a.terminal(a.stderr) {
		return nil
	}
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(a.stderr),
		progressbar.OptionSetDescription(what),
		progressbar.OptionThrottle(100 * time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionFullWidth(),
	}
	if bytes {
		opts = append(opts, progressbar.OptionShowBytes(true), progressbar.OptionUseIECUnits(true))
	} else if total >= 0 {
		opts = append(opts, progressbar.OptionShowCount())
	}
	return &progress{bar: progressbar.NewOptions64(total, opts...)}
}

// Add advances the bar by n.
func (p *progress) Add(n int) {
	if p != nil {
		_ = p.bar.Add(n) // drawing errors on the terminal do not fail the command
	}
}

// Set moves the bar to n.
func (p *progress) Set(n int64) {
	if p != nil {
		_ = p.bar.Set64(n)
	}
}

// Writer returns w, counting what goes through it on the bar.
func (p *progress) Writer(w io.Writer) io.Writer {
	if p == nil {
		return w
	}
	return io.MultiWriter(w, p.bar)
}

// Spin keeps a spinner turning until the returned stop is called; for
// single calls whose progress cannot be observed.
func (p *progress) Spin() (stop func()) {
	if p == nil {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = p.bar.Add(1)
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		p.Done()
	}
}

// Done removes the bar from the terminal.
func (p *progress) Done() {
	if p != nil {
		_ = p.bar.Finish()
	}
}

// confirm asks question on stderr and reads the answer from stdin; only
// "y" or "yes" agrees.
func (a *app) confirm(question string) (bool, error) {
	fmt.Fprintf(a.stderr, "%s [y/N] ", question)
	line, err := bufio.NewReader(a.stdin).ReadString('\n')
	if err != nil && line == "" {
		if err == io.EOF {
			fmt.Fprintln(a.stderr)
			return false, nil
		}
		return false, err
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}
