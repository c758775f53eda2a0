-- 0029: a domain may ask its engines to find more domain controllers in DNS (the SRV records
-- `_ldap._tcp.dc._msdcs.<domain>`), tried after `url` and `failover_urls`: 1 yes, 0 no.
ALTER TABLE domains ADD COLUMN discover_dcs INTEGER NOT NULL DEFAULT 0;
