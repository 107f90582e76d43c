/*
 * vb_survey.c - packing and unpacking the bench's survey messages.
 */
#include <stdlib.h>

#include "vb_survey.h"

int
vb_send_pb(nng_socket s, const ProtobufCMessage *m)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	nng_msg *msg = NULL;
	uint8_t *buf;
	int rv;

	if ((buf = malloc(len ? len : 1)) == NULL)
		return NNG_ENOMEM;
	protobuf_c_message_pack(m, buf);
	if ((rv = nng_msg_alloc(&msg, 0)) != 0)
		goto out;
	if ((rv = nng_msg_append(msg, buf, len)) != 0)
		goto out;
	if ((rv = nng_sendmsg(s, msg, 0)) != 0)
		goto out;
	msg = NULL;                  /* nng owns it once sent */
out:
	if (msg != NULL)
		nng_msg_free(msg);
	free(buf);
	return rv;
}

static int
recv_pb(nng_socket s, const ProtobufCMessageDescriptor *d,
    ProtobufCMessage **out)
{
	nng_msg *msg = NULL;
	int rv;

	*out = NULL;
	if ((rv = nng_recvmsg(s, &msg, 0)) != 0)
		return rv;
	*out = protobuf_c_message_unpack(d, NULL, nng_msg_len(msg),
	    nng_msg_body(msg));
	nng_msg_free(msg);
	return *out != NULL ? 0 : NNG_EINVAL;
}

int
vb_recv_survey(nng_socket s, Vsetbench__V1__Survey **out)
{
	return recv_pb(s, &vsetbench__v1__survey__descriptor,
	    (ProtobufCMessage **)out);
}

int
vb_recv_reply(nng_socket s, Vsetbench__V1__AgentReply **out)
{
	return recv_pb(s, &vsetbench__v1__agent_reply__descriptor,
	    (ProtobufCMessage **)out);
}
