/*
 * vb_survey.h - protobuf messages over nng SURVEYOR/RESPONDENT sockets.
 *
 * Both roles send one protobuf message per nng message (vset_bench.proto).
 * Messages are built by appending to an empty nng_msg, never by
 * nng_msg_insert (nng #1808: heap corruption at some sizes in 1.5.2).
 */
#ifndef VB_SURVEY_H
#define VB_SURVEY_H

#include <nng/nng.h>
#include <protobuf-c/protobuf-c.h>

#include "vset_bench.pb-c.h"

/* Pack m and send it on s.  0 or an nng error. */
int vb_send_pb(nng_socket s, const ProtobufCMessage *m);

/* Receive one message and unpack it as a Survey / AgentReply.  0, an nng
 * error (NNG_ETIMEDOUT when the receive timeout or the survey expired), or
 * NNG_EINVAL for a message that does not decode.  *out is the caller's:
 * free with vsetbench__v1__*__free_unpacked(*out, NULL). */
int vb_recv_survey(nng_socket s, Vsetbench__V1__Survey **out);
int vb_recv_reply(nng_socket s, Vsetbench__V1__AgentReply **out);

#endif
