-- 008_fleet.sql -- which fleet this database belongs to. A fleet is the
-- set of keys under one FLEETQ_KEY_PREFIX on one Redis; its id lives there
-- too, and the coordinator refuses a database whose id is another fleet's,
-- so that the results of one fleet are never split over two stores, nor
-- mixed with another's. One row at most.

CREATE TABLE fleet (
    id         TEXT PRIMARY KEY,
    created_at TEXT NOT NULL
);
