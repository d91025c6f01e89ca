-- A group's mailNickname is unique in the tenant (group.md: "The mail alias for the group, unique in the
-- organization"), case-insensitively (nick_fold is folded); classes and teams are groups. Users' aliases are
-- not covered: the user page documents no such rule. A write that breaks it is refused whole
-- (docs/decisions.md, "Directory: status codes of writes").
CREATE UNIQUE INDEX dir_object_group_nick ON dir_object (tenant, nick_fold) WHERE kind = 'group' AND nick_fold IS NOT NULL;
