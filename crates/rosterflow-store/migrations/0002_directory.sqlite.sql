-- The directory (docs/architecture.md, "The directory"): objects (users, groups, administrative units; their
-- education and team facets) and the relations between them (members, owners), indexed both ways.
-- Indexed string columns hold folded copies (rosterflow_model::directory::fold) of the values in `body`, so
-- that case-insensitive $filter is a plain, indexed comparison; `fold` holds the folded values of the other
-- filterable properties as JSON. `source` marks who wrote the object ('api' by hand, 'run' by a run).
CREATE TABLE dir_object (
    tenant       TEXT    NOT NULL,
    id           TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    edu          INTEGER NOT NULL,
    team         INTEGER NOT NULL,
    source       TEXT    NOT NULL,
    display_fold TEXT,
    upn_fold     TEXT,
    mail_fold    TEXT,
    nick_fold    TEXT,
    ext_fold     TEXT,
    created      TEXT,
    body         TEXT    NOT NULL,
    fold         TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    PRIMARY KEY (tenant, id)
); -- a rowid table: its rows are large (the documents), and a bulk load appends to it

CREATE UNIQUE INDEX dir_object_upn ON dir_object (tenant, upn_fold) WHERE upn_fold IS NOT NULL;
CREATE INDEX dir_object_display ON dir_object (tenant, kind, display_fold, id);
CREATE INDEX dir_object_mail ON dir_object (tenant, mail_fold) WHERE mail_fold IS NOT NULL;
CREATE INDEX dir_object_nick ON dir_object (tenant, nick_fold) WHERE nick_fold IS NOT NULL;
CREATE INDEX dir_object_ext ON dir_object (tenant, ext_fold) WHERE ext_fold IS NOT NULL;
CREATE INDEX dir_object_created ON dir_object (tenant, kind, created, id);

CREATE TABLE dir_relation (
    tenant  TEXT NOT NULL,
    rel     TEXT NOT NULL,
    from_id TEXT NOT NULL,
    to_id   TEXT NOT NULL,
    source  TEXT NOT NULL,
    PRIMARY KEY (tenant, rel, from_id, to_id)
) WITHOUT ROWID;
CREATE INDEX dir_relation_reverse ON dir_relation (tenant, rel, to_id, from_id);
