-- 0032: the request lists of people who see every request (sorted by creation or by last
-- change, newest first, a page at a time) read an index in order instead of sorting the whole
-- table each time; bench/load.sh found those lists the slowest reads (bench/RESULTS.md "Load").
CREATE INDEX requests_created ON requests (created_at, id);
CREATE INDEX requests_updated ON requests (updated_at, id);
