/* control.h: the control socket between turnstiled and turnstilectl.
 *
 * The server side (control_open) only frames and dispatches: it knows nothing
 * about lanes. A Unix stream socket; many clients at once; each request is one
 * JSON object on one line ending in "\n", each reply is one JSON object on one
 * line ending in "\n", in request order (requests may be pipelined).
 *
 * Framing rules (enforced here, before the handler sees anything):
 *   - a line that is not a JSON object, or has no string member "cmd":
 *       {"ok":false,"error":"bad request: ..."}; the connection stays usable;
 *   - a line longer than request_max bytes: {"ok":false,"error":"request too
 *     large"}, then the connection is closed (the rest of the line is garbage);
 *   - otherwise the handler gets the request and an empty reply object. It adds
 *     "ok" (false, with "error": "text" on failure) and its fields; when it adds
 *     no "ok", "ok":true is added. "ok" is always the first member;
 *   - a client that does not read its replies is paused after CONTROL_OUTPUT_HIGH
 *     pending bytes and dropped when one reply pushes it over CONTROL_OUTPUT_MAX.
 *
 * The protocol spoken by turnstilectl (the daemon's handler answers exactly this;
 * every reply also carries "ok", and on failure "error": "one line of text"):
 *
 *   {"cmd":"status"[,"lane":L]}
 *     -> {"lanes":[{"name","state","mode","pending_mode","attendant_left_ms",
 *                   "outputs":{"open_a":0,...},
 *                   "check":null | {"id":N,"request_id":"hex","code_kind","verdict",
 *                                   "reason","title","valid_until","reuse":bool,
 *                                   "attendant_required":bool,
 *                                   "holder":{"initials","birth_date","doc"}}}]}
 *   {"cmd":"scan","lane":L,"payload":P}
 *     -> {"result":"accepted"|"duplicate"|"busy"}
 *   {"cmd":"confirm","lane":L[,"request_id":"hex"]}       -> {}
 *   {"cmd":"reject","lane":L[,"request_id":"hex"]}        -> {}
 *   {"cmd":"open","lane":L,"dir":"a"|"b","reason":TEXT}   -> {} (reason never empty)
 *   {"cmd":"mode","lane":L,"mode":"normal"|"free"|"free-a"|"free-b"|"locked"}
 *     -> {"applied":true|false} (false: deferred until the lane is idle)
 *   {"cmd":"sim_get","lane":L}
 *     -> {"outputs":{NAME:0|1,...},"inputs":{NAME:0|1,...},"edges":{NAME:N,...}}
 *   {"cmd":"sim_set","lane":L,"signal":S,"value":0|1}     -> {}
 *   {"cmd":"passes_import","csv":TEXT}
 *     -> {"imported":N}; on failure "error":"line N: ..." (the CLI prefixes the
 *        file name). TEXT is at most 4 MiB; the daemon should accept requests of
 *        CONTROL_REQUEST_MAX bytes so that an escaped 4 MiB CSV fits.
 *   {"cmd":"passes_list"}
 *     -> {"passes":[{"kind","holder","valid_from","valid_until","uses_per_day",
 *                    "pass_back_min","zone","uses"}]}
 *   {"cmd":"info"}
 *     -> {"version","store_path","lanes":[NAME,...]}
 *
 * Export does not go through the socket: turnstilectl asks "info" for the
 * store_path and reads the journal itself, read-only (export.h).
 *
 * Nothing here logs; every function returns 0 or a negative errno.
 */
#ifndef TS_CONTROL_H
#define TS_CONTROL_H

#include <stddef.h>
#include <sys/types.h>
#include <cjson/cJSON.h>
#include <systemd/sd-event.h>

#define CONTROL_SOCKET_DEFAULT "/run/turnstiled/control.sock"
/* Largest request the daemon should accept: a 4 MiB CSV import, JSON-escaped. */
#define CONTROL_REQUEST_MAX ((size_t)10 << 20)
#define CONTROL_IMPORT_MAX ((size_t)4 << 20)
/* Per client: replies stop being produced above HIGH until the client reads;
 * a client whose pending output exceeds MAX is dropped. */
#define CONTROL_OUTPUT_HIGH ((size_t)1 << 20)
#define CONTROL_OUTPUT_MAX ((size_t)16 << 20)
#define CONTROL_CLIENTS_MAX 128

struct control;

/* Called once per well-formed request, on the loop; request has a non-empty
 * string "cmd". It must answer synchronously and must not call control_close. */
typedef void (*control_request_fn)(void *userdata, const cJSON *request, cJSON *reply);

/* Listens on path (parent directory created 0755 if missing; a stale socket
 * left by a dead daemon is replaced; -EADDRINUSE if a live daemon answers
 * there; -EEXIST if path is something other than a socket), chmod'ed to mode.
 * request_max: longest accepted request line, without the "\n". */
int control_open(struct control **out, sd_event *ev, const char *path, mode_t mode,
		 size_t request_max, control_request_fn fn, void *userdata);
/* Closes every client and the socket, and unlinks the path. Accepts NULL. */
void control_close(struct control *c);
/* Connected clients right now (for status and tests). */
size_t control_client_count(const struct control *c);

/* Client side, blocking: connects to path, sends request as one line, reads one
 * reply line and parses it into *reply (a JSON object; the caller frees it).
 * timeout_ms covers the whole exchange; negative means no limit.
 * -ENOENT / -ECONNREFUSED: no daemon there; -ETIMEDOUT; -ECONNRESET: closed
 * without a reply; -EPROTO: the reply is not one JSON object; other -errno. */
int control_call(const char *path, const cJSON *request, cJSON **reply, int timeout_ms);

#endif
