package registry

import (
	"os"
	"slices"
	"sync"
	"time"
)

// parkTTL is how long a plugin process that has validated a config waits
// to be taken by the next Launch of the same binary: adf run validates a
// flow's components and then starts them, and a process that answered the
// validation serves the run as well as a new one, one start sooner. A
// process nobody takes within parkTTL is stopped.
const parkTTL = 2 * time.Second

// parking holds the plugin processes kept for reuse, by binary path.
type parking struct {
	mu     sync.Mutex
	byPath map[string][]*parked
	closed bool
}

type parked struct {
	inst  *Instance
	timer *time.Timer
	// binary is the file the process was started from, as it was then: a
	// binary replaced since is started anew, never served by the old one.
	binary os.FileInfo
}

// park keeps inst (a process of the binary at path that is idle and
// healthy) for the next take, or stops it after parkTTL.
func (p *parking) park(path string, inst *Instance) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		go inst.Kill()
		return
	}
	if p.byPath == nil {
		p.byPath = map[string][]*parked{}
	}
	binary, err := os.Stat(path)
	if err != nil {
		go inst.Kill()
		return
	}
	e := &parked{inst: inst, binary: binary}
	e.timer = time.AfterFunc(parkTTL, func() {
		if p.remove(path, e) {
			inst.Kill()
		}
	})
	p.byPath[path] = append(p.byPath[path], e)
}

// remove takes e out of the parking; false when it was taken already.
func (p *parking) remove(path string, e *parked) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := slices.Index(p.byPath[path], e)
	if i < 0 {
		return false
	}
	p.byPath[path] = slices.Delete(p.byPath[path], i, i+1)
	return true
}

// take returns a parked process of the binary at path that is still
// running and was started from the file that is there now, or nil.
func (p *parking) take(path string) *Instance {
	now, err := os.Stat(path)
	p.mu.Lock()
	defer p.mu.Unlock()
	for list := p.byPath[path]; len(list) > 0; list = p.byPath[path] {
		e := list[len(list)-1]
		p.byPath[path] = list[:len(list)-1]
		e.timer.Stop()
		if err == nil && !e.inst.Exited() && sameFile(e.binary, now) {
			return e.inst
		}
		go e.inst.Kill() // stops or reaps it
	}
	return nil
}

// sameFile reports whether two stats are of one unchanged file.
func sameFile(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// close stops every parked process, and those parked later.
func (p *parking) close() {
	p.mu.Lock()
	all := p.byPath
	p.byPath, p.closed = nil, true
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, list := range all {
		for _, e := range list {
			e.timer.Stop()
			wg.Add(1)
			go func() { defer wg.Done(); e.inst.Kill() }()
		}
	}
	wg.Wait()
}

// Close stops the plugin processes the registry keeps for reuse (see
// CheckConfig). A registry is usable after Close; it just keeps none.
func (r *Registry) Close() { r.parking.close() }
