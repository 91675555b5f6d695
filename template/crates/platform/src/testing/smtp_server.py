# A real SMTP server for tests: aiosmtpd on 127.0.0.1:<port>, writing each
# message it receives as a JSON file (envelope sender and recipients,
# subject, headers, decoded text) into <folder>. testing::MailCatcher
# (mail_catcher.rs, which embeds this file) runs it for the application's
# tests; the template's browser scenarios run this same file. The
# application sends to it over TCP through a real SMTP conversation.
#
#   python3 smtp_server.py <port> <folder>
#
# Prints "ready" once it listens. Needs aiosmtpd importable (PYTHONPATH).
import email
import email.policy
import json
import os
import sys
import threading
import time
import uuid

from aiosmtpd.controller import Controller


class Keep:
    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        record = {
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "subject": str(message["subject"]),
            "headers": {key.lower(): str(value) for key, value in message.items()},
            "body": message.get_content(),
        }
        path = os.path.join(sys.argv[2], f"{time.time_ns()}-{uuid.uuid4().hex}.json")
        # Written aside, then renamed: a reader never sees half a message.
        with open(path + ".part", "w") as out:
            json.dump(record, out)
        os.rename(path + ".part", path)
        return "250 OK"


controller = Controller(Keep(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
threading.Event().wait()
