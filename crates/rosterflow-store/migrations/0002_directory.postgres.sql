-- The directory: see 0002_directory.sqlite.sql. Folded text is compared and ordered in code point order
-- (COLLATE "C"), as Rust orders strings and as the in-memory $filter evaluator does.
CREATE TABLE dir_object (
    tenant       TEXT    NOT NULL,
    id           TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    edu          BOOLEAN NOT NULL,
    team         BOOLEAN NOT NULL,
    source       TEXT    NOT NULL,
    display_fold TEXT COLLATE "C",
    upn_fold     TEXT COLLATE "C",
    mail_fold    TEXT COLLATE "C",
    nick_fold    TEXT COLLATE "C",
    ext_fold     TEXT COLLATE "C",
    created      TEXT COLLATE "C",
    body         TEXT    NOT NULL,
    fold         JSONB   NOT NULL,
    version      BIGINT  NOT NULL,
    PRIMARY KEY (tenant, id)
);
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
);
CREATE INDEX dir_relation_reverse ON dir_relation (tenant, rel, to_id, from_id);
