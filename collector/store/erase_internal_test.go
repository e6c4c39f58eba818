package store

import "context"

// EraseIdentityPrefix runs the first n statements of DeleteIdentity's
// sequence outside any transaction, as D1 would before a crash, and
// returns how many there are in all.
func (s *Store) EraseIdentityPrefix(ctx context.Context, identityID string, n int) (int, error) {
	steps := s.identityErasure(identityID)
	return len(steps), run(ctx, s.db, steps[:min(n, len(steps))])
}

// EraseVisitorPrefix does the same for DeleteVisitor.
func (s *Store) EraseVisitorPrefix(ctx context.Context, visitorID string, n int) (int, error) {
	steps := s.visitorErasure(visitorID)
	return len(steps), run(ctx, s.db, steps[:min(n, len(steps))])
}
