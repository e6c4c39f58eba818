-- Ids are ULIDs in upper case (docs/security.md#ids). Before ingest upper-cased
-- them, a browser could store ids in lower case: the REST API, which
-- upper-cases the ids it is given, could neither read nor erase those rows,
-- and one eventId sent in two cases was stored twice. This upper-cases every
-- stored id. Plain statements, no transaction: D1 runs it too.
--
-- Where one id is stored in several cases (say events 01jd… and 01JD…), one
-- row must go before the other can take the upper-case id. The row kept is
-- the one already in upper case if there is one, else the smallest of the
-- others (upper-case letters sort first, so the most upper-cased). The
-- rows that point at an id (events of a visit, sessions, pages) are simply
-- upper-cased, so the kept row gathers them: a lower-case visit's events
-- join the visit of the same id.
--
-- Each DELETE reads the table once (its first IN uses the primary key), and
-- touches rows that have a lower-case letter only.

-- events: the resent copy of an event goes.
DELETE FROM events WHERE event_id <> upper(event_id)
  AND (upper(event_id) IN (SELECT event_id FROM events)
    OR event_id NOT IN (SELECT min(event_id) FROM events WHERE event_id <> upper(event_id) GROUP BY upper(event_id)));
UPDATE events SET event_id = upper(event_id), visit_id = upper(visit_id), visitor_id = upper(visitor_id),
    session_id = upper(session_id), identity_id = upper(identity_id), page_id = upper(page_id)
  WHERE event_id <> upper(event_id) OR visit_id <> upper(visit_id) OR visitor_id <> upper(visitor_id)
    OR session_id <> upper(session_id) OR identity_id <> upper(identity_id) OR page_id <> upper(page_id);

DELETE FROM visitors WHERE visitor_id <> upper(visitor_id)
  AND (upper(visitor_id) IN (SELECT visitor_id FROM visitors)
    OR visitor_id NOT IN (SELECT min(visitor_id) FROM visitors WHERE visitor_id <> upper(visitor_id) GROUP BY upper(visitor_id)));
UPDATE visitors SET visitor_id = upper(visitor_id) WHERE visitor_id <> upper(visitor_id);

DELETE FROM identities WHERE identity_id <> upper(identity_id)
  AND (upper(identity_id) IN (SELECT identity_id FROM identities)
    OR identity_id NOT IN (SELECT min(identity_id) FROM identities WHERE identity_id <> upper(identity_id) GROUP BY upper(identity_id)));
UPDATE identities SET identity_id = upper(identity_id) WHERE identity_id <> upper(identity_id);

DELETE FROM visits WHERE visit_id <> upper(visit_id)
  AND (upper(visit_id) IN (SELECT visit_id FROM visits)
    OR visit_id NOT IN (SELECT min(visit_id) FROM visits WHERE visit_id <> upper(visit_id) GROUP BY upper(visit_id)));
UPDATE visits SET visit_id = upper(visit_id), visitor_id = upper(visitor_id), identity_id = upper(identity_id),
    session_id = upper(session_id)
  WHERE visit_id <> upper(visit_id) OR visitor_id <> upper(visitor_id) OR identity_id <> upper(identity_id)
    OR session_id <> upper(session_id);

DELETE FROM sessions WHERE session_id <> upper(session_id)
  AND (upper(session_id) IN (SELECT session_id FROM sessions)
    OR session_id NOT IN (SELECT min(session_id) FROM sessions WHERE session_id <> upper(session_id) GROUP BY upper(session_id)));
UPDATE sessions SET session_id = upper(session_id), visit_id = upper(visit_id), identity_id = upper(identity_id)
  WHERE session_id <> upper(session_id) OR visit_id <> upper(visit_id) OR identity_id <> upper(identity_id);

DELETE FROM pages WHERE page_id <> upper(page_id)
  AND (upper(page_id) IN (SELECT page_id FROM pages)
    OR page_id NOT IN (SELECT min(page_id) FROM pages WHERE page_id <> upper(page_id) GROUP BY upper(page_id)));
UPDATE pages SET page_id = upper(page_id), visit_id = upper(visit_id)
  WHERE page_id <> upper(page_id) OR visit_id <> upper(visit_id);

DELETE FROM visit_metadata WHERE visit_id <> upper(visit_id)
  AND (upper(visit_id) IN (SELECT visit_id FROM visit_metadata)
    OR visit_id NOT IN (SELECT min(visit_id) FROM visit_metadata WHERE visit_id <> upper(visit_id) GROUP BY upper(visit_id)));
UPDATE visit_metadata SET visit_id = upper(visit_id) WHERE visit_id <> upper(visit_id);

-- Links: the primary key is the pair of ids.
DELETE FROM identity_visitors WHERE (identity_id <> upper(identity_id) OR visitor_id <> upper(visitor_id))
  AND ((upper(identity_id), upper(visitor_id)) IN (SELECT identity_id, visitor_id FROM identity_visitors)
    OR identity_id || ' ' || visitor_id NOT IN (SELECT min(identity_id || ' ' || visitor_id) FROM identity_visitors
      WHERE identity_id <> upper(identity_id) OR visitor_id <> upper(visitor_id) GROUP BY upper(identity_id), upper(visitor_id)));
UPDATE identity_visitors SET identity_id = upper(identity_id), visitor_id = upper(visitor_id)
  WHERE identity_id <> upper(identity_id) OR visitor_id <> upper(visitor_id);

DELETE FROM visit_identities WHERE (visit_id <> upper(visit_id) OR identity_id <> upper(identity_id))
  AND ((upper(visit_id), upper(identity_id)) IN (SELECT visit_id, identity_id FROM visit_identities)
    OR visit_id || ' ' || identity_id NOT IN (SELECT min(visit_id || ' ' || identity_id) FROM visit_identities
      WHERE visit_id <> upper(visit_id) OR identity_id <> upper(identity_id) GROUP BY upper(visit_id), upper(identity_id)));
UPDATE visit_identities SET visit_id = upper(visit_id), identity_id = upper(identity_id)
  WHERE visit_id <> upper(visit_id) OR identity_id <> upper(identity_id);

-- Visitor data: the subject is '<kind>:<id>', the kind in lower case.
DELETE FROM visitor_data
  WHERE subject <> substr(subject, 1, instr(subject, ':')) || upper(substr(subject, instr(subject, ':') + 1))
  AND (substr(subject, 1, instr(subject, ':')) || upper(substr(subject, instr(subject, ':') + 1)) IN (SELECT subject FROM visitor_data)
    OR subject NOT IN (SELECT min(subject) FROM visitor_data
      WHERE subject <> substr(subject, 1, instr(subject, ':')) || upper(substr(subject, instr(subject, ':') + 1))
      GROUP BY substr(subject, 1, instr(subject, ':')) || upper(substr(subject, instr(subject, ':') + 1))));
UPDATE visitor_data SET subject = substr(subject, 1, instr(subject, ':')) || upper(substr(subject, instr(subject, ':') + 1))
  WHERE subject <> substr(subject, 1, instr(subject, ':')) || upper(substr(subject, instr(subject, ':') + 1));
