/*
 * harness/sim_server.h - serves the simulated model (harness/sim.h) over
 * HTTP on 127.0.0.1 through recorder/httpd.
 *
 * Each request is planned with lg_sim_plan_call(); its occurrence number
 * counts earlier requests with the same hash (and, when the request carries
 * X-Loopgate-Case / X-Loopgate-Trial, the same case and trial) seen by this
 * server. Those headers, added by the loopgate proxy for harness sessions,
 * tell a behaviour model (cfg->model) which case and trial it answers. A plan
 * without delays is answered in the event thread; delays, chunk gaps and
 * slow faults run in an httpd worker. Streams go out chunk by chunk; a cut
 * fault sends part of the response and drops the connection.
 *
 * Several servers may run in one process (no globals).
 */
#ifndef LG_SIM_SERVER_H
#define LG_SIM_SERVER_H

#include <stdint.h>

#include "core/err.h"
#include "harness/sim.h"

typedef struct lg_sim_server lg_sim_server;

/* Starts a server on 127.0.0.1:`port` (0: random) with a copy of `cfg`
 * (cfg->model is borrowed and must outlive the server).
 * Returns 0 and an owned `*out` (stop with lg_sim_server_stop), or the
 * error of lg_httpd_start() (LG_EIO naming the port) or LG_ENOMEM. */
int lg_sim_server_start(const lg_sim_config *cfg, unsigned port, lg_sim_server **out,
                        lg_err *err) LG_WUR;

/* The bound port. Thread-safe. */
unsigned lg_sim_server_port(const lg_sim_server *s);

/* Requests answered so far (all paths, faults included). Thread-safe. */
uint64_t lg_sim_server_requests(const lg_sim_server *s);

/* Stops serving (open streams are cut) and frees. Accepts NULL. */
void lg_sim_server_stop(lg_sim_server *s);

#endif
