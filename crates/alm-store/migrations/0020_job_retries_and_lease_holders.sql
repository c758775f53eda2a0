-- 0020: jobs that change the directory or a vault are retried for as long as their failure is
-- transient (issue: an outage of minutes stranded approved requests for good), and a lease
-- held by the in-process engine names the server process holding it, so a restarted server
-- can give back at once the leases its dead predecessor held instead of waiting them out.
ALTER TABLE jobs ADD COLUMN retry_until_done INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN lease_instance TEXT;
