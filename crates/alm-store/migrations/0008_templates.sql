-- 0008: workflow templates (SPEC §2.4). A template has numbered versions; each version's
-- definition is JSON (alm-core's TemplateDefinition). `published_version` is the one new
-- requests use; accounts keep the version they were made from, so versions are never deleted
-- once published.

CREATE TABLE templates (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL,
    published_version INTEGER,
    latest_version INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX templates_state ON templates (state);

CREATE TABLE template_versions (
    template_id TEXT NOT NULL REFERENCES templates (id),
    version INTEGER NOT NULL,
    state TEXT NOT NULL,
    definition TEXT NOT NULL,
    created_by TEXT,
    submitted_by TEXT,
    approved_by TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    published_at BIGINT,
    PRIMARY KEY (template_id, version)
);
