-- All times are Unix milliseconds (bigint), passed in by the caller so that every replica and
-- every test uses the same clock as the request. Rows carry their own expiry so the janitor
-- needs no configuration and replicas with different settings never delete live rows.
-- The hot tables leave room on each page (fillfactor) so per-request updates stay HOT.

CREATE TABLE rate_windows (
    scope         text   NOT NULL,
    subnet        text   NOT NULL,
    window_end    bigint NOT NULL,
    count         integer NOT NULL,
    blocked_until bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (scope, subnet)
) WITH (fillfactor = 70);

-- path_hash '' is the subnet total, otherwise the (subnet, path) counter.
CREATE TABLE bw_usage (
    scope         text   NOT NULL,
    subnet        text   NOT NULL,
    path_hash     text   NOT NULL,
    window_end    bigint NOT NULL,
    bytes         bigint NOT NULL,
    blocked_until bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (scope, subnet, path_hash)
) WITH (fillfactor = 70);

CREATE TABLE links (
    path_hash  text   NOT NULL PRIMARY KEY,
    url        text   NOT NULL,
    header     text,
    host       text   NOT NULL DEFAULT '',
    fetched_at bigint NOT NULL,
    expires_at bigint NOT NULL
);

CREATE TABLE sizes (
    path_hash  text   NOT NULL PRIMARY KEY,
    size       bigint NOT NULL,
    fetched_at bigint NOT NULL,
    expires_at bigint NOT NULL
);

CREATE TABLE throttle (
    host   text    NOT NULL PRIMARY KEY,
    status integer NOT NULL,
    until  bigint  NOT NULL
);

CREATE TABLE failures (
    scope      text    NOT NULL,
    subnet     text    NOT NULL,
    window_end bigint  NOT NULL,
    count      integer NOT NULL,
    PRIMARY KEY (scope, subnet)
);

CREATE TABLE bans (
    scope  text   NOT NULL,
    subnet text   NOT NULL,
    until  bigint NOT NULL,
    PRIMARY KEY (scope, subnet)
);

CREATE TABLE nonces (
    nonce      text   NOT NULL PRIMARY KEY,
    expires_at bigint NOT NULL
);

-- The unified check of SPEC §8, called as ONE statement per request. It is versioned by name
-- (a changed check gets a new function in a new migration) so that during a rolling upgrade the
-- old binary keeps calling the function it knows.
--
-- Precedence: ban, request rate, total bandwidth, per-file bandwidth, throttle. A refused
-- request changes only the state that refused it (a new block); only an allowed request is
-- counted. The rate row is locked FOR UPDATE, which serialises concurrent checks of one subnet
-- across all replicas and makes "exactly N pass" hold. The rate row is created (count 0) by the
-- subnet's first request even when a later stage refuses it: the window starts with the first
-- request, counted or not.
CREATE FUNCTION alist_edge_check_v1(
    p_scope       text,
    p_subnet      text,
    p_path        text,
    p_now         bigint,
    p_ban         boolean,
    p_limit       integer,
    p_window      bigint,
    p_block       bigint,
    p_total_limit bigint,
    p_file_limit  bigint,
    p_bw_block    bigint,
    p_link_ttl    bigint,
    p_throttle    boolean,
    p_size_ttl    bigint)
RETURNS TABLE (o_reason text, o_retry bigint, o_status integer,
               o_url text, o_header text, o_fetched bigint, o_size bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
    v_end       bigint;
    v_count     integer;
    v_blocked   bigint;
    v_bytes     bigint;
    v_new_end   bigint;
    v_new_count integer;
    v_host      text;
    v_tstatus   integer;
    v_tuntil    bigint;
BEGIN
    o_reason := '';
    o_retry := 0;
    o_status := 0;
    o_size := -1;

    IF p_ban THEN
        SELECT b.until INTO v_blocked FROM bans b
         WHERE b.scope = p_scope AND b.subnet = p_subnet AND b.until > p_now;
        IF FOUND THEN
            o_reason := 'banned';
            o_retry := v_blocked - p_now;
            RETURN NEXT;
            RETURN;
        END IF;
    END IF;

    IF p_limit > 0 THEN
        LOOP
            SELECT r.window_end, r.count, r.blocked_until INTO v_end, v_count, v_blocked
              FROM rate_windows r
             WHERE r.scope = p_scope AND r.subnet = p_subnet
               FOR UPDATE;
            EXIT WHEN FOUND;
            INSERT INTO rate_windows AS r (scope, subnet, window_end, count, blocked_until)
            VALUES (p_scope, p_subnet, p_now + p_window, 0, 0)
            ON CONFLICT DO NOTHING;
        END LOOP;
        IF v_blocked > p_now THEN
            o_reason := 'rate_limit';
            o_retry := v_blocked - p_now;
            RETURN NEXT;
            RETURN;
        ELSIF v_blocked > 0 OR p_now >= v_end THEN
            v_new_end := p_now + p_window;
            v_new_count := 1;
        ELSIF v_count < p_limit THEN
            v_new_end := v_end;
            v_new_count := v_count + 1;
        ELSE
            IF p_block > 0 THEN
                v_blocked := p_now + p_block;
            ELSE
                v_blocked := v_end;
            END IF;
            UPDATE rate_windows r SET blocked_until = v_blocked
             WHERE r.scope = p_scope AND r.subnet = p_subnet;
            o_reason := 'rate_limit';
            o_retry := v_blocked - p_now;
            RETURN NEXT;
            RETURN;
        END IF;
    END IF;

    IF p_total_limit > 0 THEN
        SELECT u.window_end, u.bytes, u.blocked_until INTO v_end, v_bytes, v_blocked
          FROM bw_usage u
         WHERE u.scope = p_scope AND u.subnet = p_subnet AND u.path_hash = '';
        IF FOUND THEN
            IF v_blocked > p_now THEN
                o_reason := 'bandwidth_total';
                o_retry := v_blocked - p_now;
                RETURN NEXT;
                RETURN;
            ELSIF v_end > p_now AND v_bytes >= p_total_limit THEN
                UPDATE bw_usage u SET blocked_until = p_now + p_bw_block
                 WHERE u.scope = p_scope AND u.subnet = p_subnet AND u.path_hash = '';
                o_reason := 'bandwidth_total';
                o_retry := p_bw_block;
                RETURN NEXT;
                RETURN;
            END IF;
        END IF;
    END IF;

    IF p_file_limit > 0 AND p_path <> '' THEN
        SELECT u.window_end, u.bytes, u.blocked_until INTO v_end, v_bytes, v_blocked
          FROM bw_usage u
         WHERE u.scope = p_scope AND u.subnet = p_subnet AND u.path_hash = p_path;
        IF FOUND THEN
            IF v_blocked > p_now THEN
                o_reason := 'bandwidth_filepath';
                o_retry := v_blocked - p_now;
                RETURN NEXT;
                RETURN;
            ELSIF v_end > p_now AND v_bytes >= p_file_limit THEN
                UPDATE bw_usage u SET blocked_until = p_now + p_bw_block
                 WHERE u.scope = p_scope AND u.subnet = p_subnet AND u.path_hash = p_path;
                o_reason := 'bandwidth_filepath';
                o_retry := p_bw_block;
                RETURN NEXT;
                RETURN;
            END IF;
        END IF;
    END IF;

    IF p_link_ttl > 0 THEN
        SELECT l.url, l.header, l.fetched_at, l.host INTO o_url, o_header, o_fetched, v_host
          FROM links l
         WHERE l.path_hash = p_path AND l.fetched_at > p_now - p_link_ttl;
        IF FOUND AND p_throttle AND v_host <> '' THEN
            SELECT t.status, t.until INTO v_tstatus, v_tuntil FROM throttle t
             WHERE t.host = v_host AND t.until > p_now;
            IF FOUND THEN
                o_reason := 'throttled';
                o_status := v_tstatus;
                o_retry := v_tuntil - p_now;
                o_url := NULL;
                o_header := NULL;
                o_fetched := NULL;
                RETURN NEXT;
                RETURN;
            END IF;
        END IF;
    END IF;

    IF p_limit > 0 THEN
        UPDATE rate_windows r SET window_end = v_new_end, count = v_new_count, blocked_until = 0
         WHERE r.scope = p_scope AND r.subnet = p_subnet;
    END IF;

    IF p_size_ttl > 0 THEN
        SELECT s.size INTO o_size FROM sizes s
         WHERE s.path_hash = p_path AND s.fetched_at > p_now - p_size_ttl;
        IF NOT FOUND THEN
            o_size := -1;
        END IF;
    END IF;

    RETURN NEXT;
END
$fn$;
