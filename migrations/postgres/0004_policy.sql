-- Policy limits (issue #16). A named counter is a row of the existing tables under scope
-- 'policy:<name>' and the limit's key: bytes in bw_usage (path_hash ''), requests in
-- rate_windows. alist_edge_check_v3 is v2 plus the counters (locked in the order given, which
-- the caller sorts, then checked in p_c_order, counted when the request is admitted) and the
-- revocation list; alist_edge_extend_v2 is v1 plus the counters. v2 and v1 stay for binaries
-- that still call them during a rolling upgrade.

-- Revoked links: a path (exact) or a prefix, refused with 410 until the given Unix ms.
CREATE TABLE revocations (
    path   text    NOT NULL,
    prefix boolean NOT NULL,
    until  bigint  NOT NULL,
    PRIMARY KEY (path, prefix)
);

-- Locks the request-window row (scope, subnet), creating it empty (window starting now) if
-- missing, and returns it.
CREATE FUNCTION alist_edge_lock_rate_v1(p_scope text, p_subnet text, p_now bigint, p_window bigint,
    OUT o_end bigint, OUT o_count integer, OUT o_blocked bigint)
LANGUAGE plpgsql AS $fn$
BEGIN
    LOOP
        SELECT r.window_end, r.count, r.blocked_until INTO o_end, o_count, o_blocked
          FROM rate_windows r
         WHERE r.scope = p_scope AND r.subnet = p_subnet
           FOR UPDATE;
        EXIT WHEN FOUND;
        INSERT INTO rate_windows AS r (scope, subnet, window_end, count, blocked_until)
        VALUES (p_scope, p_subnet, p_now + p_window, 0, 0)
        ON CONFLICT DO NOTHING;
    END LOOP;
END
$fn$;

CREATE FUNCTION alist_edge_check_v3(
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
    p_file_window  bigint,
    p_revocable    boolean,
    p_rpath        text,
    p_c_scope      text[],
    p_c_key        text[],
    p_c_bytes      bigint[],
    p_c_requests   bigint[],
    p_c_window     bigint[],
    p_c_order      integer[])
RETURNS TABLE (o_reason text, o_retry bigint, o_status integer,
               o_url text, o_header text, o_fetched bigint, o_size bigint,
               o_grant bigint, o_tend bigint, o_fend bigint,
               o_counter integer, o_ckind integer, o_cend bigint[])
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
    v_r         record;
    v_tused     bigint := 0;
    v_fused     bigint := 0;
    v_n         integer := COALESCE(array_length(p_c_scope, 1), 0);
    v_bend      bigint[] := '{}';
    v_bbytes    bigint[] := '{}';
    v_qend      bigint[] := '{}';
    v_qcount    bigint[] := '{}';
    v_used      bigint;
    v_i         integer;
BEGIN
    o_reason := '';
    o_retry := 0;
    o_status := 0;
    o_size := -1;
    o_grant := -1;
    o_tend := 0;
    o_fend := 0;
    o_counter := 0;
    o_ckind := 0;
    o_cend := '{}';

    IF p_revocable THEN
        SELECT max(r.until) INTO v_blocked FROM revocations r
         WHERE r.until > p_now
           AND ((NOT r.prefix AND r.path = p_rpath) OR (r.prefix AND substr(p_rpath, 1, length(r.path)) = r.path));
        IF v_blocked IS NOT NULL THEN
            o_reason := 'revoked';
            o_retry := v_blocked - p_now;
            RETURN NEXT;
            RETURN;
        END IF;
    END IF;

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

    -- Counter rows are locked before the subnet's usage rows, in the caller's (sorted) order:
    -- the order the usage writer takes them in, so replicas never deadlock.
    FOR i IN 1..v_n LOOP
        v_bend[i] := 0;
        v_bbytes[i] := 0;
        v_qend[i] := 0;
        v_qcount[i] := 0;
        IF p_c_bytes[i] > 0 THEN
            v_capped := true;
            SELECT * INTO v_r FROM alist_edge_lock_usage_v1(p_c_scope[i], p_c_key[i], '', p_now, p_c_window[i]);
            v_bend[i] := v_r.o_end;
            v_bbytes[i] := v_r.o_bytes;
        END IF;
        IF p_c_requests[i] > 0 THEN
            SELECT * INTO v_r FROM alist_edge_lock_rate_v1(p_c_scope[i], p_c_key[i], p_now, p_c_window[i]);
            v_qend[i] := v_r.o_end;
            v_qcount[i] := v_r.o_count;
        END IF;
    END LOOP;

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
    END IF;

    -- Policy counters, in the policy's order: a refusal blocks nothing, it names the counter
    -- and when its window ends.
    FOR k IN 1..COALESCE(array_length(p_c_order, 1), 0) LOOP
        v_i := p_c_order[k];
        IF p_c_requests[v_i] > 0 THEN
            v_used := CASE WHEN v_qend[v_i] > p_now AND v_qcount[v_i] > 0 THEN v_qcount[v_i] ELSE 0 END;
            IF v_used >= p_c_requests[v_i] THEN
                o_reason := 'policy_limit';
                o_counter := v_i;
                o_ckind := 1;
                o_retry := CASE WHEN v_used > 0 THEN v_qend[v_i] ELSE p_now + p_c_window[v_i] END - p_now;
                RETURN NEXT;
                RETURN;
            END IF;
        END IF;
        IF p_c_bytes[v_i] > 0 THEN
            v_used := CASE WHEN v_bend[v_i] > p_now AND v_bbytes[v_i] > 0 THEN v_bbytes[v_i] ELSE 0 END;
            IF v_used >= p_c_bytes[v_i] OR (p_reserve > 0 AND v_used + p_reserve > p_c_bytes[v_i]) THEN
                o_reason := 'policy_limit';
                o_counter := v_i;
                o_ckind := 2;
                o_retry := CASE WHEN v_used > 0 THEN v_bend[v_i] ELSE p_now + p_c_window[v_i] END - p_now;
                RETURN NEXT;
                RETURN;
            END IF;
        END IF;
    END LOOP;

    IF v_capped THEN
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
            FOR i IN 1..v_n LOOP
                IF p_c_bytes[i] > 0 THEN
                    v_used := CASE WHEN v_bend[i] > p_now AND v_bbytes[i] > 0 THEN v_bbytes[i] ELSE 0 END;
                    o_grant := LEAST(o_grant, p_c_bytes[i] - v_used);
                END IF;
            END LOOP;
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
    FOR i IN 1..v_n LOOP
        o_cend[i] := 0;
        IF p_c_bytes[i] > 0 AND o_grant > 0 THEN
            o_cend[i] := alist_edge_add_usage_v1(p_c_scope[i], p_c_key[i], '', p_now, p_c_window[i], o_grant);
        END IF;
        IF p_c_requests[i] > 0 THEN
            UPDATE rate_windows r SET
                window_end = CASE WHEN r.window_end <= p_now OR r.count <= 0 THEN p_now + p_c_window[i] ELSE r.window_end END,
                count = CASE WHEN r.window_end <= p_now OR r.count <= 0 THEN 1 ELSE r.count + 1 END
             WHERE r.scope = p_c_scope[i] AND r.subnet = p_c_key[i];
        END IF;
    END LOOP;

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

-- Meter.Extend with counters: grants as much of p_want as fits under every cap (0..p_want),
-- the subnet's quotas first, then the counters in p_c_order, and counts it in every row.
-- o_counter names the counter that granted less than asked (0: none), o_cend the window end
-- of each counter's row.
CREATE FUNCTION alist_edge_extend_v2(
    p_scope        text,
    p_subnet       text,
    p_path         text,
    p_now          bigint,
    p_want         bigint,
    p_total_limit  bigint,
    p_file_limit   bigint,
    p_total_window bigint,
    p_file_window  bigint,
    p_c_scope      text[],
    p_c_key        text[],
    p_c_bytes      bigint[],
    p_c_window     bigint[],
    p_c_order      integer[])
RETURNS TABLE (o_grant bigint, o_reason text, o_retry bigint, o_tend bigint, o_fend bigint,
               o_counter integer, o_cend bigint[])
LANGUAGE plpgsql AS $fn$
DECLARE
    v_t     record;
    v_f     record;
    v_r     record;
    v_used  bigint;
    v_n     integer := COALESCE(array_length(p_c_scope, 1), 0);
    v_bend  bigint[] := '{}';
    v_bbytes bigint[] := '{}';
    v_i     integer;
BEGIN
    o_grant := p_want;
    o_reason := '';
    o_retry := 0;
    o_tend := 0;
    o_fend := 0;
    o_counter := 0;
    o_cend := '{}';
    FOR i IN 1..v_n LOOP
        SELECT * INTO v_r FROM alist_edge_lock_usage_v1(p_c_scope[i], p_c_key[i], '', p_now, p_c_window[i]);
        v_bend[i] := v_r.o_end;
        v_bbytes[i] := v_r.o_bytes;
        o_cend[i] := v_r.o_end;
    END LOOP;
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
    FOR k IN 1..COALESCE(array_length(p_c_order, 1), 0) LOOP
        v_i := p_c_order[k];
        v_used := CASE WHEN v_bend[v_i] > p_now AND v_bbytes[v_i] > 0 THEN v_bbytes[v_i] ELSE 0 END;
        IF p_c_bytes[v_i] - v_used < o_grant THEN
            o_grant := GREATEST(p_c_bytes[v_i] - v_used, 0);
            o_reason := 'policy_limit';
            o_counter := v_i;
            o_retry := CASE WHEN v_used > 0 THEN v_bend[v_i] ELSE p_now + p_c_window[v_i] END - p_now;
        END IF;
    END LOOP;

    IF o_grant > 0 THEN
        FOR i IN 1..v_n LOOP
            o_cend[i] := alist_edge_add_usage_v1(p_c_scope[i], p_c_key[i], '', p_now, p_c_window[i], o_grant);
        END LOOP;
        o_tend := alist_edge_add_usage_v1(p_scope, p_subnet, '', p_now, p_total_window, o_grant);
        IF p_path <> '' THEN
            o_fend := alist_edge_add_usage_v1(p_scope, p_subnet, p_path, p_now, p_file_window, o_grant);
        END IF;
    END IF;
    RETURN NEXT;
END
$fn$;
