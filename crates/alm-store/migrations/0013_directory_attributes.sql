-- 0013: the attribute names of each domain's schema (SPEC §6.1 "attribute schema"), replaced at
-- every full sync; templates may set only attributes the schema has.

CREATE TABLE directory_attributes (
    domain_id TEXT NOT NULL,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    PRIMARY KEY (domain_id, name_key)
);
