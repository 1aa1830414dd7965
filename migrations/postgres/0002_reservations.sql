-- Bandwidth quotas are caps (docs/contract.md §8). alist_edge_check_v2 is v1 plus the reservation: when a
-- quota applies it locks the subnet's usage rows (total, then the path: the order the usage
-- writer uses), refuses a request whose expected bytes (p_reserve) would pass a limit, and
-- otherwise counts them at once, so a parallel request on any replica sees them.
-- alist_edge_extend_v1 reserves more for a stream that needs it. v1 stays for binaries that
-- still call it during a rolling upgrade.

-- Readiness probe: Store.Ping upserts this one row, so /readyz fails where a check's COMMIT
-- would (a read-only database, a full disk).
CREATE TABLE health (
    id integer NOT NULL PRIMARY KEY,
    at bigint  NOT NULL
);

-- Locks the usage row (scope, subnet, path), creating it empty (window starting now) if
-- missing, and returns it.
CREATE FUNCTION alist_edge_lock_usage_v1(p_scope text, p_subnet text, p_path text, p_now bigint, p_window bigint,
    OUT o_end bigint, OUT o_bytes bigint, OUT o_blocked bigint)
LANGUAGE plpgsql AS $fn$
BEGIN
    LOOP
        SELECT u.window_end, u.bytes, u.blocked_until INTO o_end, o_bytes, o_blocked
          FROM bw_usage u
         WHERE u.scope = p_scope AND u.subnet = p_subnet AND u.path_hash = p_path
           FOR UPDATE;
        EXIT WHEN FOUND;
        INSERT INTO bw_usage AS u (scope, subnet, path_hash, window_end, bytes, blocked_until)
        VALUES (p_scope, p_subnet, p_path, p_now + p_window, 0, 0)
        ON CONFLICT DO NOTHING;
    END LOOP;
END
$fn$;

-- Adds p_n bytes to a locked usage row; an ended or empty window is replaced by one that
-- starts now. Returns the row's window end.
CREATE FUNCTION alist_edge_add_usage_v1(p_scope text, p_subnet text, p_path text, p_now bigint, p_window bigint,
    p_n bigint)
RETURNS bigint
LANGUAGE sql AS $fn$
    UPDATE bw_usage u SET
        window_end = CASE WHEN u.window_end <= p_now OR u.bytes <= 0 THEN p_now + p_window ELSE u.window_end END,
        bytes = CASE WHEN u.window_end <= p_now OR u.bytes <= 0 THEN p_n ELSE u.bytes + p_n END
     WHERE u.scope = p_scope AND u.subnet = p_subnet AND u.path_hash = p_path
    RETURNING u.window_end;
$fn$;

CREATE FUNCTION alist_edge_check_v2(
    p_scope        text,
    p_subnet       text,
    p_path         text,
    p_now          bigint,
    p_ban          boolean,
    p_limit        integer,
    p_window       bigint,
    p_block        bigint,
    p_total_limit  bigint,
    p_file_limit   bigint,
    p_bw_block     bigint,
    p_link_ttl     bigint,
    p_throttle     boolean,
    p_size_ttl     bigint,
    p_reserve      bigint,
    p_chunk        bigint,
    p_total_window bigint,
    p_file_window  bigint)
RETURNS TABLE (o_reason text, o_retry bigint, o_status integer,
               o_url text, o_header text, o_fetched bigint, o_size bigint,
               o_grant bigint, o_tend bigint, o_fend bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
    v_end       bigint;
    v_count     integer;
    v_blocked   bigint;
    v_new_end   bigint;
    v_new_count integer;
    v_host      text;
    v_tstatus   integer;
    v_tuntil    bigint;
    v_file_limit bigint := CASE WHEN p_path <> '' THEN p_file_limit ELSE 0 END;
    v_capped    boolean := p_total_limit > 0 OR (p_file_limit > 0 AND p_path <> '');
    v_t         record;
    v_f         record;
    v_tused     bigint := 0;
    v_fused     bigint := 0;
BEGIN
    o_reason := '';
    o_retry := 0;
    o_status := 0;
    o_size := -1;
    o_grant := -1;
    o_tend := 0;
    o_fend := 0;

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

    IF v_capped THEN
        SELECT * INTO v_t FROM alist_edge_lock_usage_v1(p_scope, p_subnet, '', p_now, p_total_window);
        IF v_t.o_end > p_now AND v_t.o_bytes > 0 THEN
            v_tused := v_t.o_bytes;
        END IF;
        IF p_path <> '' THEN
            SELECT * INTO v_f FROM alist_edge_lock_usage_v1(p_scope, p_subnet, p_path, p_now, p_file_window);
            IF v_f.o_end > p_now AND v_f.o_bytes > 0 THEN
                v_fused := v_f.o_bytes;
            END IF;
        END IF;

        IF p_total_limit > 0 THEN
            IF v_t.o_blocked > p_now THEN
                o_reason := 'bandwidth_total';
                o_retry := v_t.o_blocked - p_now;
                RETURN NEXT;
                RETURN;
            ELSIF v_tused >= p_total_limit OR (p_reserve > 0 AND v_tused + p_reserve > p_total_limit) THEN
                UPDATE bw_usage u SET blocked_until = p_now + p_bw_block
                 WHERE u.scope = p_scope AND u.subnet = p_subnet AND u.path_hash = '';
                o_reason := 'bandwidth_total';
                o_retry := p_bw_block;
                RETURN NEXT;
                RETURN;
            END IF;
        END IF;

        IF v_file_limit > 0 THEN
            IF v_f.o_blocked > p_now THEN
                o_reason := 'bandwidth_filepath';
                o_retry := v_f.o_blocked - p_now;
                RETURN NEXT;
                RETURN;
            ELSIF v_fused >= v_file_limit OR (p_reserve > 0 AND v_fused + p_reserve > v_file_limit) THEN
                UPDATE bw_usage u SET blocked_until = p_now + p_bw_block
                 WHERE u.scope = p_scope AND u.subnet = p_subnet AND u.path_hash = p_path;
                o_reason := 'bandwidth_filepath';
                o_retry := p_bw_block;
                RETURN NEXT;
                RETURN;
            END IF;
        END IF;

        IF p_reserve >= 0 THEN
            o_grant := p_reserve;
        ELSE
            o_grant := p_chunk;
            IF p_total_limit > 0 THEN
                o_grant := LEAST(o_grant, p_total_limit - v_tused);
            END IF;
            IF v_file_limit > 0 THEN
                o_grant := LEAST(o_grant, v_file_limit - v_fused);
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
                o_grant := -1;
                RETURN NEXT;
                RETURN;
            END IF;
        END IF;
    END IF;

    IF p_limit > 0 THEN
        UPDATE rate_windows r SET window_end = v_new_end, count = v_new_count, blocked_until = 0
         WHERE r.scope = p_scope AND r.subnet = p_subnet;
    END IF;

    IF v_capped AND o_grant > 0 THEN
        o_tend := alist_edge_add_usage_v1(p_scope, p_subnet, '', p_now, p_total_window, o_grant);
        IF p_path <> '' THEN
            o_fend := alist_edge_add_usage_v1(p_scope, p_subnet, p_path, p_now, p_file_window, o_grant);
        END IF;
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

-- Meter.Extend: grants as much of p_want as fits under every cap (0..p_want) and counts it.
-- o_reason names the quota that granted less than asked; o_retry is when its window ends.
CREATE FUNCTION alist_edge_extend_v1(
    p_scope        text,
    p_subnet       text,
    p_path         text,
    p_now          bigint,
    p_want         bigint,
    p_total_limit  bigint,
    p_file_limit   bigint,
    p_total_window bigint,
    p_file_window  bigint)
RETURNS TABLE (o_grant bigint, o_reason text, o_retry bigint, o_tend bigint, o_fend bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
    v_t     record;
    v_f     record;
    v_used  bigint;
BEGIN
    o_grant := p_want;
    o_reason := '';
    o_retry := 0;
    o_tend := 0;
    o_fend := 0;
    SELECT * INTO v_t FROM alist_edge_lock_usage_v1(p_scope, p_subnet, '', p_now, p_total_window);
    o_tend := v_t.o_end;
    IF p_path <> '' THEN
        SELECT * INTO v_f FROM alist_edge_lock_usage_v1(p_scope, p_subnet, p_path, p_now, p_file_window);
        o_fend := v_f.o_end;
    END IF;

    IF p_total_limit > 0 THEN
        v_used := CASE WHEN v_t.o_end > p_now AND v_t.o_bytes > 0 THEN v_t.o_bytes ELSE 0 END;
        IF p_total_limit - v_used < o_grant THEN
            o_grant := GREATEST(p_total_limit - v_used, 0);
            o_reason := 'bandwidth_total';
            o_retry := GREATEST(v_t.o_end - p_now, 0);
        END IF;
    END IF;
    IF p_file_limit > 0 AND p_path <> '' THEN
        v_used := CASE WHEN v_f.o_end > p_now AND v_f.o_bytes > 0 THEN v_f.o_bytes ELSE 0 END;
        IF p_file_limit - v_used < o_grant THEN
            o_grant := GREATEST(p_file_limit - v_used, 0);
            o_reason := 'bandwidth_filepath';
            o_retry := GREATEST(v_f.o_end - p_now, 0);
        END IF;
    END IF;

    IF o_grant > 0 THEN
        o_tend := alist_edge_add_usage_v1(p_scope, p_subnet, '', p_now, p_total_window, o_grant);
        IF p_path <> '' THEN
            o_fend := alist_edge_add_usage_v1(p_scope, p_subnet, p_path, p_now, p_file_window, o_grant);
        END IF;
    END IF;
    RETURN NEXT;
END
$fn$;
