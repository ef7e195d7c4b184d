package index

// Tick is called by work outside the package between small units of it: it rests when the
// slice is used up, and panics with ErrStopped once the server shuts down.
func (pc *Pacer) Tick() { pc.tick() }
