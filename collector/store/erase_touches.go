package store

// Touches. An identity's firstTouch and lastTouch are copies of one of its
// visits' start, landing URL, referrer and campaign (LinkIdentity). When
// an erasure or retention deletes the visit a touch was copied from, the
// copy goes too: the touch is recomputed from the identity's visits that
// remain, or cleared when none remains, in a statement that runs before
// the visits are deleted (it reads them), in the same sequence.
//
// A touch is known to be a copy of a deleted visit by its text: the touch JSON
// wrote it from columns that a visit never changes afterwards, so the
// same expression over the deleted visit gives the same text. Only an
// identity proven on the deleted visit's browser can hold such a copy
// (LinkIdentity copies only from the visits of a browser it links), so the
// statement reaches the identities through identity_visitors' index, and
// touches copied from visits that stay are left as they are.
//
// The recomputed touches follow LinkIdentity's rules over what remains:
// the first touch is the earliest visit of the identity (linked to it or
// carrying its id) on a browser proven to be it; the last touch the
// latest visit with a verified link to it.

// recomputeTouches returns the statement that recomputes the touches
// copied from the visits that gone selects (a SELECT of visit ids; its
// arguments are the statement's). D1 runs it as one statement: a rerun
// after a crash finds no copy left and changes nothing.
func recomputeTouches(touch, gone string) string {
	return `WITH gone(visit_id) AS (` + gone + `),
	copies(touch) AS (SELECT ` + touch + ` FROM visits t WHERE t.visit_id IN (SELECT visit_id FROM gone))
	UPDATE identities SET
		first_touch = CASE WHEN first_touch IN (SELECT touch FROM copies) THEN (SELECT ` + touch + ` FROM visits t
			WHERE t.visit_id = (` + remainingVisit(false) + ` ORDER BY r.started_at, r.visit_id LIMIT 1))
			ELSE first_touch END,
		last_touch = CASE WHEN last_touch IN (SELECT touch FROM copies) THEN (SELECT ` + touch + ` FROM visits t
			WHERE t.visit_id = (` + remainingVisit(true) + ` ORDER BY r.started_at DESC, r.visit_id DESC LIMIT 1))
			ELSE last_touch END
	WHERE identity_id IN (SELECT iv.identity_id FROM identity_visitors iv
			WHERE iv.visitor_id IN (SELECT v.visitor_id FROM visits v WHERE v.visit_id IN (SELECT visit_id FROM gone)))
		AND (first_touch IN (SELECT touch FROM copies) OR last_touch IN (SELECT touch FROM copies))`
}

// remainingVisit selects, as r, the visits of the identity being updated
// that are not gone, on the browsers proven to be it: those linked to it
// (verified links only when verified) or, unless verified, carrying its
// id. The caller orders and limits.
func remainingVisit(verified bool) string {
	link := `EXISTS (SELECT 1 FROM visit_identities vi WHERE vi.visit_id = r.visit_id AND vi.identity_id = iv.identity_id`
	if verified {
		link += ` AND vi.verified = 1)`
	} else {
		link = `(r.identity_id = iv.identity_id OR ` + link + `))`
	}
	return `SELECT r.visit_id FROM identity_visitors iv JOIN visits r ON r.visitor_id = iv.visitor_id
		WHERE iv.identity_id = identities.identity_id AND r.visit_id NOT IN (SELECT visit_id FROM gone) AND ` + link
}
