-- 0022: a value sealed with the master key at first start, opened at every start, so a server
-- given the wrong key (a backup restored without its master.key) refuses to start instead of
-- running with secrets it cannot open. One row.
CREATE TABLE key_check (
    id INTEGER PRIMARY KEY,
    sealed TEXT NOT NULL
);
