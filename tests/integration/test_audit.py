"""The audit journal's hash chain, verification and exports, end to end.

The chain is checked with `turnstilectl audit verify`, against a journal the real
daemon wrote; attacks are made with the sqlite3 CLI the way someone with the file
would make them (dropping the append-only triggers first). row_hash() below is an
independent implementation of the canonical encoding in daemon/audit.h, and
record_of()/seal() of the check record in daemon/checkrec.h, so the tests also pin
the formats that a third party would implement.
"""
import csv
import hashlib
import io
import json
import os
import sqlite3
import subprocess
import time

import pytest

from conftest import TURNSTILECTL, wait_until

GENESIS = "0" * 64
COLS = ("id", "time", "lane", "check_id", "step", "value", "source", "code_kind",
        "code_hash", "request_id", "detail")


def row_hash(prev, row):
    h = hashlib.sha256(b"tsj1\n" + prev.encode() + b"\n")
    for col in COLS:
        v = row[col]
        if v is None:
            h.update(b"N")
        elif isinstance(v, int):
            h.update(b"I%d;" % v)
        else:
            b = v.encode()
            h.update(b"T%d:" % len(b) + b)
    return h.hexdigest()


FIELDS = ("lane", "source", "code_kind", "verdict", "attendant", "gate", "grant_dir",
          "request_id", "reason", "row_hashes")


def encode_record(rec):
    """checks.record: each field as T<byte length>:<bytes>, in FIELDS order."""
    out = b""
    for f in FIELDS:
        b = rec[f].encode()
        out += b"T%d:" % len(b) + b
    return out


def seal(check_id, time_ms, rec):
    return hashlib.sha256(b"tsc1\n" + b"I%d;I%d;" % (check_id, time_ms)
                          + encode_record(rec)).hexdigest()


def reason_of(detail):
    try:
        d = json.loads(detail) if detail is not None else None
    except ValueError:
        return ""
    if not isinstance(d, dict) or d.get("reason") is None:
        return ""
    r = d["reason"]
    return r if isinstance(r, str) else json.dumps(r, separators=(",", ":"))


def record_of(rows):
    """The record of a check from its rows (scan first, id order), as checkrec.h says."""
    scan = rows[0]
    rec = {f: "" for f in FIELDS}
    rec.update(lane=scan["lane"] or "", source=scan["source"] or "",
               code_kind=scan["code_kind"] or "", request_id=scan["request_id"] or "",
               verdict="none", attendant="not_required", gate="none")
    for r in rows[1:]:
        if r["value"] is None:
            continue
        if r["step"] == "verdict":
            rec.update(verdict=r["value"], reason=reason_of(r["detail"]))
        elif r["step"] in ("attendant", "gate"):
            rec[r["step"]] = r["value"]
        elif r["step"] == "grant":
            rec["grant_dir"] = r["value"]
    rec["row_hashes"] = " ".join(f"{r['id']}:{r['hash']}" for r in rows)
    return rec


def sql(db, script):
    p = subprocess.run(["sqlite3", str(db)], input=script, capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout


def verify(*args):
    p = subprocess.run([str(TURNSTILECTL), "audit", "verify", *args], capture_output=True,
                       text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def verify_json(*args):
    p = subprocess.run([str(TURNSTILECTL), "--json", "audit", "verify", *args],
                       capture_output=True, text=True, timeout=60)
    return p.returncode, json.loads(p.stdout)


def run_checks(d):
    """A granted membership that passes, an expired one, a ticket the attendant rejects."""
    d.ctl_ok("scan", "main", "GYM-1")
    d.wait_state("open")
    d.ctl_ok("sim", "set", "main", "pass_a", "1")
    d.ctl_ok("sim", "set", "main", "pass_a", "0")
    d.wait_state("idle")
    d.ctl_ok("scan", "main", "GYM-OLD")
    d.wait_state("denied")
    d.wait_state("idle")
    d.ctl_ok("scan", "main", "TICKET-2")
    lane = d.wait_state("await_attendant")
    d.ctl_ok("reject", "main", lane["check"]["request_id"])
    d.wait_state("idle")
    time.sleep(0.2)  # non-grant rows are committed by the flush timer


def rows_of(db):
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    rows = [dict(r) for r in con.execute("SELECT * FROM journal ORDER BY id")]
    con.close()
    return rows


@pytest.fixture
def journal(daemon):
    run_checks(daemon)
    return daemon


def test_status_counts_entries_denials_and_verification_latency(journal):
    c = journal.lane()["counters"]
    for period in ("since_start", "today"):
        p = c[period]
        assert (p["entries"], p["exits"], p["denials"], p["not_passed"]) == (1, 0, 1, 0), c
        assert p["verifications"] == 3, c
        assert 0 <= p["verify_ms_avg"] <= p["verify_ms_max"] < 1000, c
    # The membership opens; nobody passes within the 2 s pass window.
    journal.ctl_ok("scan", "main", "GYM-1")
    journal.wait_state("open")
    journal.wait_state("idle", timeout=5)
    c = journal.lane()["counters"]["since_start"]
    assert (c["entries"], c["not_passed"], c["verifications"]) == (1, 1, 4), c


def test_every_row_is_chained_and_matches_an_independent_hash(journal):
    rows = rows_of(journal.db)
    assert len(rows) >= 10, rows
    prev = GENESIS
    for r in rows:
        assert r["prev_hash"] == prev, r
        assert r["hash"] == row_hash(prev, r), r
        prev = r["hash"]
    # Verification works on a read-only connection while the daemon runs.
    code, rep = verify_json("--db", str(journal.db))
    assert code == 0, rep
    assert rep["intact"] is True and rep["rows"] == len(rows) and rep["head"] == prev
    # Without --db it asks the daemon where its journal is.
    out = journal.ctl_ok("audit", "verify")
    assert out.startswith(f"intact: {len(rows)} rows, last row {rows[-1]['id']}, head {prev}")


def test_a_tampered_field_names_its_row(journal):
    journal.stop()
    victim = next(r for r in rows_of(journal.db) if r["step"] == "verdict"
                  and r["value"] == "expired")
    sql(journal.db, "DROP TRIGGER journal_no_update;"
        f"UPDATE journal SET value = 'valid' WHERE id = {victim['id']};")
    code, out, err = verify("--db", str(journal.db))
    assert code == 1, (out, err)
    assert f"broken at row {victim['id']}: row content does not match its hash" in err, err


def test_a_row_rewritten_with_a_fresh_hash_breaks_the_next_link(journal):
    journal.stop()
    rows = rows_of(journal.db)
    i = next(i for i, r in enumerate(rows) if r["step"] == "verdict" and r["value"] == "expired")
    forged = dict(rows[i], value="valid")
    new = row_hash(forged["prev_hash"], forged)
    sql(journal.db, "DROP TRIGGER journal_no_update;"
        f"UPDATE journal SET value = 'valid', hash = '{new}' WHERE id = {forged['id']};")
    code, rep = verify_json("--db", str(journal.db))
    assert code == 1
    assert rep["bad_id"] == rows[i + 1]["id"], rep
    assert "changed or removed" in rep["reason"], rep


def test_a_deleted_row_is_detected(journal):
    journal.stop()
    rows = rows_of(journal.db)
    victim = next(r for r in rows if r["step"] == "gate")
    # The triggers refuse the ordinary ways in; an attacker drops them first.
    for stmt in ("DELETE FROM journal WHERE id = 1", "UPDATE journal SET lane = 'x'"):
        p = subprocess.run(["sqlite3", str(journal.db), stmt], capture_output=True, text=True)
        assert p.returncode != 0 and "append-only" in p.stderr, (stmt, p.stderr)
    sql(journal.db, f"DROP TRIGGER journal_no_delete; DELETE FROM journal WHERE id = {victim['id']};")
    code, out, err = verify("--db", str(journal.db))
    assert code == 1
    assert f"broken at row {victim['id'] + 1}: prev_hash does not match row {victim['id'] - 1}" \
        ": rows between are missing" in err, err


def export_lines(d, path):
    d.ctl_ok("export", "--format", "jsonl", "--db", str(d.db), "-o", str(path))
    return path.read_text().splitlines()


def write_lines(path, lines):
    path.write_text("".join(line + "\n" for line in lines))


def resealed(line, **fields):
    """A line with fields changed and its seal made again, as a forger who read
    checkrec.h would."""
    rec = dict(json.loads(line), **fields)
    rec["seal"] = seal(rec["check_id"], rec["time_ms"], rec)
    return json.dumps(rec, ensure_ascii=False)


def rows_of_check(rows, check_id):
    return [r for r in rows if check_id in (r["id"], r["check_id"])]


def test_jsonl_export_verifies_standalone_and_a_tampered_line_is_caught(journal, tmp_path):
    lines = export_lines(journal, tmp_path / "export.jsonl")
    assert len(lines) == 3
    recs = [json.loads(line) for line in lines]
    assert list(recs[0]) == ["check_id", "time", *FIELDS[:-1], "time_ms", "row_hashes", "seal"]
    # Each line is what this file's record_of() and seal() make of the journal's rows.
    rows = rows_of(journal.db)
    for rec in recs:
        assert {f: rec[f] for f in FIELDS} == record_of(rows_of_check(rows, rec["check_id"]))
        assert rec["seal"] == seal(rec["check_id"], rec["time_ms"], rec)
    code, rep = verify_json("--file", str(tmp_path / "export.jsonl"))
    named = [ref.split(":") for rec in recs for ref in rec["row_hashes"].split(" ")]
    assert code == 0 and rep["records"] == 3 and rep["rows"] == len(named) >= 9, rep
    assert (rep["last_id"], rep["head"]) == (int(named[-1][0]), named[-1][1]), rep
    code, rep = verify_json("--file", str(tmp_path / "export.jsonl"), "--db", str(journal.db))
    assert code == 0, rep
    bad = tmp_path / "bad.jsonl"

    # 1. A field edited: the seal no longer holds; the line and its check are named.
    assert recs[1]["verdict"] == "expired"
    write_lines(bad, [lines[0], json.dumps(dict(recs[1], verdict="valid")), lines[2]])
    code, out, err = verify("--file", str(bad))
    assert code == 1
    assert f"line 2, check {recs[1]['check_id']}: the seal does not match" in err, err

    # 2. ... with the seal made again: nothing in the file can tell (a file has no
    # secret); the journal can, and names the field.
    write_lines(bad, [lines[0], resealed(lines[1], verdict="valid"), lines[2]])
    code, rep = verify_json("--file", str(bad))
    assert code == 0, rep
    code, rep = verify_json("--file", str(bad), "--db", str(journal.db))
    assert code == 1 and (rep["bad_line"], rep["bad_id"]) == (2, recs[1]["check_id"]), rep
    assert rep["reason"] == f"check {recs[1]['check_id']} differs from the journal: verdict", rep

    # 3. A row's hash in row_hashes: the seal again; resealed, the journal.
    refs = recs[2]["row_hashes"].split(" ")
    rid = refs[1].split(":")[0]
    forged = " ".join([refs[0], f"{rid}:{'0' * 64}", *refs[2:]])
    write_lines(bad, [lines[0], lines[1], json.dumps(dict(recs[2], row_hashes=forged))])
    code, rep = verify_json("--file", str(bad))
    assert code == 1 and rep["bad_line"] == 3 and "seal does not match" in rep["reason"], rep
    write_lines(bad, [lines[0], lines[1], resealed(lines[2], row_hashes=forged)])
    code, rep = verify_json("--file", str(bad))
    assert code == 0, rep
    code, rep = verify_json("--file", str(bad), "--db", str(journal.db))
    assert code == 1 and rep["reason"].endswith("differs from the journal: row_hashes"), rep
    # Entries out of order or malformed are refused whatever the seal says.
    for forged, why in ((" ".join([refs[0], *refs[2:], refs[1]]), "ids are not ascending"),
                        (" ".join([refs[0], rid]), "is not \"ID:HASH ...\""),
                        (" ".join(refs) + " ", "single spaces")):
        write_lines(bad, [resealed(lines[2], row_hashes=forged)])
        code, rep = verify_json("--file", str(bad))
        assert code == 1 and why in rep["reason"], (forged, rep)

    # 4. time must name the instant time_ms (which the seal covers) does.
    t = recs[0]["time"]
    other = t[:11] + "%02d" % ((int(t[11:13]) + 1) % 24) + t[13:]
    write_lines(bad, [json.dumps(dict(recs[0], time=other))])
    code, rep = verify_json("--file", str(bad))
    assert code == 1 and rep["reason"] == "time is not the instant time_ms says", rep

    # 5. Lines swapped: check ids must ascend.
    write_lines(bad, [lines[1], lines[0]])
    code, rep = verify_json("--file", str(bad))
    assert code == 1 and rep["bad_line"] == 2 and "ascending check_id" in rep["reason"], rep

    # 6. A whole line removed is NOT detectable, standalone or with --db: each line
    # stands on its own seal, check ids have gaps anyway (rows of other checks and
    # events sit between scans), and a filtered export leaves checks out on purpose.
    write_lines(bad, [lines[0], lines[2]])
    code, rep = verify_json("--file", str(bad))
    assert code == 0 and rep["records"] == 2, rep
    code, rep = verify_json("--file", str(bad), "--db", str(journal.db))
    assert code == 0, rep


def test_editing_table_checks_with_the_sqlite3_cli_is_named_by_verify(journal):
    journal.stop()
    rows = rows_of(journal.db)
    con = sqlite3.connect(journal.db)
    checks = con.execute("SELECT check_id, time, last_id, record, seal FROM checks"
                         " ORDER BY check_id").fetchall()
    con.close()
    # The daemon's records are what this file's record_of() makes of the rows.
    assert [c[0] for c in checks] == [r["id"] for r in rows if r["step"] == "scan"]
    for check_id, t, last_id, record, sealed in checks:
        mine = rows_of_check(rows, check_id)
        rec = record_of(mine)
        assert (t, last_id, record, sealed) == \
            (mine[0]["time"], mine[-1]["id"], encode_record(rec).decode(), seal(check_id, t, rec))
    victim = next(c for c in checks if "T7:expired" in c[3])[0]
    rec = record_of(rows_of_check(rows, victim))

    # 1. The verdict changed in place.
    sql(journal.db, "UPDATE checks SET record = replace(record, 'T7:expired', 'T7:granted')"
        f" WHERE check_id = {victim};")
    code, out, err = verify("--db", str(journal.db))
    assert code == 1, (out, err)
    assert f"broken at row {victim}: the record of check {victim} in table checks does not" \
        " match its journal rows: verdict differs" in err, err

    # 2. Re-encoded and resealed, as the daemon would have written it.
    forged = dict(rec, verdict="valid", reason="")
    text = encode_record(forged).decode().replace("'", "''")
    sql(journal.db, f"UPDATE checks SET record = '{text}',"
        f" seal = '{seal(victim, rows_of_check(rows, victim)[0]['time'], forged)}'"
        f" WHERE check_id = {victim};")
    code, rep = verify_json("--db", str(journal.db))
    assert code == 1 and rep["bad_id"] == victim, rep
    assert rep["reason"].endswith("verdict differs"), rep

    # 3. Put back, then the record removed.
    text = encode_record(rec).decode().replace("'", "''")
    sql(journal.db, f"UPDATE checks SET record = '{text}',"
        f" seal = '{seal(victim, rows_of_check(rows, victim)[0]['time'], rec)}'"
        f" WHERE check_id = {victim};")
    code, rep = verify_json("--db", str(journal.db))
    assert code == 0, rep
    sql(journal.db, f"DELETE FROM checks WHERE check_id = {victim};")
    code, rep = verify_json("--db", str(journal.db))
    assert code == 1 and rep["bad_id"] == victim, rep
    assert rep["reason"] == f"scan row {victim} has no record in table checks", rep


def test_export_verdict_filter_and_summary(journal):
    rows = journal.export()
    assert [r["verdict"] for r in rows] == ["valid", "expired", "valid"], rows
    out = journal.ctl_ok("export", "--format", "jsonl", "--db", str(journal.db),
                         "--verdict", "expired")
    got = [json.loads(l) for l in out.splitlines()]
    assert [r["verdict"] for r in got] == ["expired"], got
    out = journal.ctl_ok("export", "--format", "jsonl", "--db", str(journal.db), "--summary")
    summary = [json.loads(l) for l in out.splitlines()]
    assert len(summary) == 1, summary
    s = summary[0]
    assert (s["lane"], s["checks"], s["entries"], s["exits"], s["denied"], s["rejected"],
            s["manual_opens"], s["not_passed"], s["denied_by_reason"]) == \
        ("main", 3, 1, 0, 1, 1, 0, 0, "expired:1"), s
    assert s["day"] == time.strftime("%Y-%m-%d"), s
    out = journal.ctl_ok("export", "--format", "csv", "--db", str(journal.db), "--summary")
    table = list(csv.reader(io.StringIO(out, newline="")))
    assert table[0][:4] == ["day", "lane", "checks", "entries"] and table[1][2] == "3", table


def append(con, prev, record=True, **row):
    """Appends a chained row the way store.c does (the triggers insist on hashes),
    and with record, keeps its check's record in table checks as store.c does."""
    full = {c: None for c in COLS}
    full.update(row)
    h = row_hash(prev, full)
    con.execute("INSERT INTO journal (" + ",".join(COLS) + ", prev_hash, hash) VALUES ("
                + ",".join("?" * (len(COLS) + 2)) + ")",
                [full[c] for c in COLS] + [prev, h])
    check = full["check_id"] or (full["id"] if full["step"] == "scan" else None)
    if record and check:
        rows = [dict(zip(COLS + ("hash",), r)) for r in con.execute(
            "SELECT " + ",".join(COLS) + ", hash FROM journal WHERE id = ?1 OR check_id = ?1"
            " ORDER BY id", (check,))]
        rec = record_of(rows)
        con.execute("INSERT OR REPLACE INTO checks (check_id, time, last_id, record, seal)"
                    " VALUES (?, ?, ?, ?, ?)", (check, rows[0]["time"], full["id"],
                                                encode_record(rec).decode(),
                                                seal(check, rows[0]["time"], rec)))
    return h


def test_csv_with_cyrillic_quotes_and_commas_round_trips(daemon_factory, tmp_path):
    d = daemon_factory().start()
    d.stop()  # migrated journal, the daemon's rows, then ours
    con = sqlite3.connect(d.db)
    last = con.execute("SELECT id, hash FROM journal ORDER BY id DESC LIMIT 1").fetchone()
    lane = 'Вход "Север", 1'
    reason = 'Паспорт "А", стр. 1\r\nвторая строка; ё'
    rid, prev = last[0] + 1, last[1]
    prev = append(con, prev, id=rid, time=1764000000000, lane=lane, step="scan", value="",
                  source="ctl", code_kind="ticket", request_id="r,1")
    prev = append(con, prev, id=rid + 1, time=1764000000001, lane=lane, check_id=rid,
                  step="verdict", value="used", detail=json.dumps({"reason": reason}))
    con.commit()
    con.close()
    code, rep = verify_json("--db", str(d.db))
    assert code == 0, rep  # rows hashed by this file's row_hash() verify in C
    out = subprocess.run([str(TURNSTILECTL), "export", "--format", "csv", "--db", str(d.db)],
                         capture_output=True, check=True).stdout
    table = list(csv.reader(io.StringIO(out.decode("utf-8"), newline="")))
    header, rec = table[0], table[-1]
    got = dict(zip(header, rec))
    assert got["lane"] == lane and got["reason"] == reason and got["request_id"] == "r,1"
    assert got["verdict"] == "used" and got["code_kind"] == "ticket"
    assert got["row_hashes"] == f"{rid}:{row_hash_of(d.db, rid)} {rid + 1}:{prev}"
    # For Excel, which takes a CSV file for UTF-8 only by its byte order mark.
    path = tmp_path / "excel.csv"
    subprocess.run([str(TURNSTILECTL), "export", "--format", "csv", "--bom", "--db", str(d.db),
                    "-o", str(path)], capture_output=True, check=True)
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfcheck_id,") and data[3:] == out, data[:20]
    with open(path, encoding="utf-8-sig", newline="") as f:
        assert list(csv.reader(f)) == table
    p = subprocess.run([str(TURNSTILECTL), "export", "--format", "jsonl", "--bom", "--db",
                        str(d.db)], capture_output=True, text=True)
    assert p.returncode != 0 and "--bom is for CSV only" in p.stderr, p


def row_hash_of(db, rid):
    con = sqlite3.connect(db)
    h = con.execute("SELECT hash FROM journal WHERE id = ?", (rid,)).fetchone()[0]
    con.close()
    return h


def test_retention_purges_old_rows_at_start_and_verification_stays_green(daemon_factory):
    from conftest import SOURCE
    d = daemon_factory(extra="")
    con = sqlite3.connect(d.db)
    con.execute("PRAGMA journal_mode=WAL")
    for f in sorted((SOURCE / "schema").glob("[0-9][0-9][0-9][0-9]_*.sql")):
        con.executescript(f.read_text())
    con.execute("PRAGMA user_version=%d" % len(list((SOURCE / "schema").glob("0*.sql"))))
    now = int(time.time() * 1000)
    prev, rid = GENESIS, 1
    for age_days in (40, 35, 0.5):  # two checks older than 30 days, one recent
        t = now - int(age_days * 86400000)
        scan = rid
        # No records: migration 0004 asked the daemon to make them at its start.
        prev = append(con, prev, False, id=rid, time=t, lane="main", step="scan", value="",
                      source="ctl", code_kind="ticket")
        prev = append(con, prev, False, id=rid + 1, time=t + 1, lane="main", check_id=scan,
                      step="verdict", value="used", detail='{"reason":"used"}')
        rid += 2
    con.commit()
    con.close()

    d.start("-D", "store.retention_days=30")
    rows = rows_of(d.db)
    assert rows[0]["id"] == 5, rows[:2]  # the two old checks (4 rows) are gone
    cp = [r for r in rows if r["value"] == "retention_checkpoint"]
    assert len(cp) == 1, rows
    detail = json.loads(cp[0]["detail"])
    assert detail["first_kept_id"] == 5 and detail["purged_rows"] == 4, detail
    assert detail["prefix_hash"] == rows[0]["prev_hash"]
    code, rep = verify_json("--db", str(d.db))
    assert code == 0, rep
    # The lane still works and the chain goes on after the checkpoint.
    d.ctl_ok("scan", "main", "GYM-1")
    time.sleep(0.3)
    code, rep = verify_json("--db", str(d.db))
    assert code == 0 and rep["rows"] > len(rows), rep
    # An export taken after the purge verifies on its own and against the journal.
    out = d.ctl_ok("export", "--format", "jsonl", "--db", str(d.db))
    recs = [json.loads(line) for line in out.splitlines()]
    assert [r["check_id"] for r in recs][:1] == [5], recs
    assert recs[0]["row_hashes"] == f"5:{rows[0]['hash']} 6:{rows[1]['hash']}", recs[0]
    exported = d.dir / "after-purge.jsonl"
    exported.write_text(out)
    code, rep = verify_json("--file", str(exported))
    assert code == 0 and rep["records"] == len(recs), rep
    code, rep = verify_json("--file", str(exported), "--db", str(d.db))
    assert code == 0, rep


def ctl_env(env, *args):
    p = subprocess.run([str(TURNSTILECTL), *args], capture_output=True, text=True, timeout=60,
                       env={**os.environ, **env})
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_export_time_range_is_local_time_and_lanes_filter(daemon_factory):
    d = daemon_factory().start()
    d.stop()
    con = sqlite3.connect(d.db)
    last = con.execute("SELECT id, hash FROM journal ORDER BY id DESC LIMIT 1").fetchone()
    rid, prev = last[0] + 1, last[1]
    # 2026-12-01 20:30Z, 21:30Z and 22:30Z on two lanes: in Moscow (UTC+3) the last
    # two fall on 2 December, in UTC all three on 1 December.
    base = 1796157000000  # 2026-12-01T20:30:00Z
    ids = []
    for k, lane in enumerate(("north", "south", "north")):
        ids.append(rid)
        prev = append(con, prev, id=rid, time=base + k * 3600000, lane=lane, step="scan",
                      value="", source="ctl", code_kind="ticket")
        prev = append(con, prev, id=rid + 1, time=base + k * 3600000 + 5, lane=lane,
                      check_id=rid, step="verdict", value="used",
                      detail='{"reason":"already used"}')
        rid += 2
    con.commit()
    con.close()

    def exported(tz, *args):
        out = ctl_env({"TZ": tz}, "export", "--format", "jsonl", "--db", str(d.db), *args)
        return [(r["check_id"], r["time"]) for r in map(json.loads, out.splitlines())]

    msk = exported("MSK-3", "--since", "2026-12-02", "--until", "2026-12-03")
    assert msk == [(ids[1], "2026-12-02T00:30:00.000+03:00"),
                   (ids[2], "2026-12-02T01:30:00.000+03:00")], msk
    utc = exported("UTC0", "--since", "2026-12-01", "--until", "2026-12-02")
    assert [i for i, _ in utc] == ids, utc
    assert utc[0][1] == "2026-12-01T20:30:00.000+00:00", utc
    # A time of day, local: from 00:00 Moscow time on 2 December.
    assert [i for i, _ in exported("MSK-3", "--since", "2026-12-02T00:00")] == ids[1:]
    assert [i for i, _ in exported("MSK-3", "--until", "2026-12-02T00:00:00")] == ids[:1]
    assert [i for i, _ in exported("MSK-3", "--lane", "north")] == [ids[0], ids[2]]
    assert exported("MSK-3", "--lane", "north", "--since", "2026-12-02") == \
        [(ids[2], "2026-12-02T01:30:00.000+03:00")]
    # The summary's days are local days too.
    out = ctl_env({"TZ": "MSK-3"}, "export", "--format", "jsonl", "--db", str(d.db),
                  "--summary", "--since", "2026-12-01")
    days = [(r["day"], r["lane"], r["checks"]) for r in map(json.loads, out.splitlines())]
    assert days == [("2026-12-01", "north", 1), ("2026-12-02", "north", 1),
                    ("2026-12-02", "south", 1)], days


def test_summary_counts_manual_opens_not_passed_and_denials_by_reason(daemon):
    # Granted, nobody passes within the 2 s window: not passed.
    daemon.ctl_ok("scan", "main", "GYM-1")
    daemon.wait_state("open")
    daemon.wait_state("idle", timeout=6)
    # A manual opening with its reason, and the visitor passes.
    daemon.ctl_ok("open", "main", "a", "--reason", "paper certificate")
    daemon.wait_state("open")
    daemon.ctl_ok("sim", "set", "main", "pass_a", "1")
    daemon.ctl_ok("sim", "set", "main", "pass_a", "0")
    daemon.wait_state("idle")
    # Two denials for two reasons.
    for code in ("GYM-OLD", "NOPE-42"):
        daemon.ctl_ok("scan", "main", code)
        daemon.wait_state("denied")
        daemon.wait_state("idle")
    rows = daemon.export()
    assert [(r["source"], r["verdict"], r["gate"]) for r in rows] == [
        ("ctl", "valid", "not_passed"), ("manual", "none", "passed"),
        ("ctl", "expired", "none"), ("ctl", "unknown", "none")], rows
    out = daemon.ctl_ok("export", "--format", "jsonl", "--db", str(daemon.db), "--summary")
    (s,) = [json.loads(line) for line in out.splitlines()]
    assert (s["checks"], s["entries"], s["exits"], s["denied"], s["rejected"],
            s["manual_opens"], s["not_passed"], s["denied_by_reason"]) == \
        (4, 1, 0, 2, 0, 1, 1, "expired:1 unknown:1"), s
