package redisstore

// Hooks for the black-box tests.

// SetBeforeWrite makes f run between the read and the write of every
// attempt of Apply, Delete, DeleteUser and Purge. Set it before using s.
func SetBeforeWrite(s *Store, f func()) { s.beforeWrite = f }

// SetFlaskBeforeWrite makes f run between the read and the write of every
// attempt of a FlaskStore's Apply. Set it before using s.
func SetFlaskBeforeWrite(s *FlaskStore, f func()) { s.beforeWrite = f }

// TrimPasses returns how many background trim passes s completed.
func TrimPasses(s *Store) int64 { return s.trimPasses.Load() }

// TrimDone returns the channel closed when the trim pass of s has exited;
// nil when s runs none.
func TrimDone(s *Store) <-chan struct{} { return s.trimDone }
