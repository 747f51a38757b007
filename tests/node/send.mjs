// Sends one message with nodemailer as an app configured for TLS would, then prints the reply.
// Usage: node send.mjs '{"host": ..., "port": ..., "secure": false, "requireTLS": true,
//                        "ca": "ca.pem", "from": ..., "to": ..., "subject": ...}'
import { readFileSync } from "node:fs";
import nodemailer from "nodemailer";

const options = JSON.parse(process.argv[2]);
const transport = nodemailer.createTransport({
  host: options.host,
  port: options.port,
  secure: options.secure,
  requireTLS: options.requireTLS,
  tls: { ca: [readFileSync(options.ca)] },
});
try {
  const info = await transport.sendMail({
    from: options.from,
    to: options.to,
    subject: options.subject,
    text: "Sent by nodemailer over TLS.",
  });
  console.log(info.response);
} catch (error) {
  console.error(`nodemailer: ${error.message}`);
  process.exit(1);
}
