-- 0032: the request lists of people who see every request (sorted by creation, newest first,
-- a page at a time) read the index in order instead of sorting the whole table each time;
-- bench/load.sh found that list the slowest read (bench/RESULTS.md "Load").
CREATE INDEX requests_created ON requests (created_at, id);
