package serve

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
)

// Seen remembers the idempotency keys of the events already turned into runs, in a file of
// one key per line, so a redelivery starts nothing even after a restart. A key is reserved
// while its event is being handled, so two copies of one delivery arriving together start
// one run.
type Seen struct {
	path string
	mu   sync.Mutex
	done map[string]bool
	busy map[string]bool
}

// OpenSeen loads the keys recorded in path (a missing file is an empty record).
func OpenSeen(path string) (*Seen, error) {
	s := &Seen{path: path, done: map[string]bool{}, busy: map[string]bool{}}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k := strings.TrimSpace(sc.Text()); k != "" {
			s.done[k] = true
		}
	}
	return s, sc.Err()
}

// Reserve claims key; false when it was handled already or is being handled now.
func (s *Seen) Reserve(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done[key] || s.busy[key] {
		return false
	}
	s.busy[key] = true
	return true
}

// Release gives up a reservation after a failure, so a redelivery can try again.
func (s *Seen) Release(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.busy, key)
}

// Commit records key as handled, durably.
func (s *Seen) Commit(key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.busy, key)
	s.done[key] = true
	f, err := os.OpenFile(s.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("record delivery %s: %w", key, err)
	}
	if _, err := fmt.Fprintln(f, strings.ReplaceAll(key, "\n", " ")); err != nil {
		f.Close()
		return fmt.Errorf("record delivery %s: %w", key, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Forget lets the events of keys be handled again: the runs they started were lost (serve was
// killed before they ended), so a redelivery must start new ones. It returns the keys that were
// recorded as handled. The record is rewritten whole, through a temporary file renamed over it,
// so a crash leaves the old or the new one.
func (s *Seen) Forget(keys ...string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var forgot []string
	for _, k := range keys {
		if s.done[k] {
			delete(s.done, k)
			forgot = append(forgot, k)
		}
	}
	if len(forgot) == 0 {
		return nil, nil
	}
	var b strings.Builder
	for k := range s.done {
		b.WriteString(strings.ReplaceAll(k, "\n", " ") + "\n")
	}
	tmp := s.path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return nil, fmt.Errorf("forget deliveries: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return nil, fmt.Errorf("forget deliveries: %w", err)
	}
	return forgot, nil
}
