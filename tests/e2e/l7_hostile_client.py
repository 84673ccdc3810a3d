"""A hostile HTTP client, run inside a pod: it speaks TCP itself (scapy, raw sockets) and tries
to get GET /admin to a server that only GET /public/* may reach, one way per TCP connection.
Prints one line per way: "NAME delivered" when the server answered the forbidden request (its
echo "GET /admin..." came back), "NAME blocked" otherwise. The pod's own kernel must not reset
these connections: the caller drops its outgoing RSTs (except those with TTL 99).

usage: l7_hostile_client.py SERVER_ADDRESS PORT NAME...
"""
import random
import sys
import threading
import time

from scapy.all import IP, TCP, Raw, conf, send, sniff, sr1  # Debian: python3-scapy
from scapy.supersocket import L3RawSocket

conf.verb = 0
conf.L3socket = L3RawSocket  # the kernel routes and resolves the gateway, as for any socket
SERVER, PORT = sys.argv[1], int(sys.argv[2])
FORBIDDEN = b"GET /admin/"
RESET_TTL = 99  # the caller's firewall drops the kernel's RSTs, not ours: they carry this TTL


class Connection:
    """One TCP connection opened by hand; remembers what the server sent back."""

    def __init__(self):
        self.port = random.randint(20000, 60000)
        self.sequence = random.randint(1, 2**31)
        self.answers = []
        self.acknowledgment = 0
        self.sniffer = threading.Thread(target=self._sniff, daemon=True)
        self.stop = False
        self.sniffer.start()
        time.sleep(0.3)
        syn_ack = sr1(IP(dst=SERVER) / TCP(sport=self.port, dport=PORT, flags="S",
                                          seq=self.sequence), timeout=3)
        if syn_ack is None or not syn_ack.haslayer(TCP):
            raise RuntimeError("no SYN-ACK")
        self.sequence += 1
        self.acknowledgment = syn_ack[TCP].seq + 1
        send(self.segment(b"", flags="A"))

    def _sniff(self):
        def keep(packet):
            if (packet.haslayer(TCP) and packet[TCP].sport == PORT and
                    packet[TCP].dport == self.port and packet.haslayer(Raw)):
                data = bytes(packet[Raw].load)
                self.answers.append(data)
                # Acknowledged, or the server holds its next small segment back (Nagle).
                self.acknowledgment = max(self.acknowledgment, packet[TCP].seq + len(data))
                send(IP(dst=SERVER) / TCP(sport=self.port, dport=PORT, flags="A",
                                          seq=packet[TCP].ack, ack=self.acknowledgment))
        sniff(prn=keep, store=False, stop_filter=lambda _: self.stop, timeout=30)

    def segment(self, payload, offset=0, flags="PA", **tcp):
        return (IP(dst=SERVER) /
                TCP(sport=self.port, dport=PORT, flags=flags, seq=self.sequence + offset,
                    ack=self.acknowledgment, **tcp) / Raw(payload))

    def delivered(self, wait=1.5):
        time.sleep(wait)
        self.stop = True
        return any(FORBIDDEN in answer for answer in self.answers)


def urgent(connection):
    # Servers without SO_OOBINLINE drop the urgent byte from the stream: the '4' of
    # "Content-Length: 40" is urgent, so to them the length is 0 and the 40 body bytes weir
    # let through as body are the next request.
    smuggled = b"GET /admin/xxxxxxx HTTP/1.1\r\nHost: b\r\n\r\n"
    assert len(smuggled) == 40
    head = b"POST /public/a HTTP/1.1\r\nHost: b\r\nContent-Length: 40\r\n\r\n"
    urgent_byte = head.index(b"40")
    # Linux (RFC 793 reading): the urgent byte is the one before seq + urgent pointer.
    send(connection.segment(head + smuggled, flags="PAU", urgptr=urgent_byte + 1))


def hole(connection):
    # A harmless request beyond a hole, then GET /admin in the hole as a "retransmission".
    admin = b"GET /admin/x HTTP/1.1\r\nHost: b\r\n\r\n"
    decoy = b"POST /public/a HTTP/1.1\r\nHost: b\r\nContent-Length: 0\r\n\r\n"
    send(connection.segment(decoy, offset=len(admin)))
    time.sleep(0.2)
    send(connection.segment(admin))


def bad_checksum(connection):
    # The server discards the judged copy (bad checksum); other bytes follow at its place.
    public = b"GET /public/x HTTP/1.1\r\nHost: b\r\n\r\n"
    admin = b"GET /admin/xx HTTP/1.1\r\nHost: b\r\n\r\n"
    send(connection.segment(public, chksum=0x1234))
    time.sleep(0.2)
    send(connection.segment(admin))


def tiny_fragment(connection):
    # The TCP header alone in the first fragment, the request in the second.
    admin = b"GET /admin/x HTTP/1.1\r\nHost: b\r\n\r\n"
    packet = IP(bytes(connection.segment(admin, options=[("NOP", None)] * 4)))
    l4 = bytes(packet)[packet.ihl * 4:]  # 24 bytes of TCP header (checksummed), then data
    identifier = random.randint(1, 65535)
    first = IP(dst=SERVER, id=identifier, flags="MF", frag=0, proto=6) / Raw(l4[:24])
    rest = IP(dst=SERVER, id=identifier, frag=3, proto=6) / Raw(l4[24:])
    send(first)
    send(rest)


def closing_entry(connection):
    # An out-of-window RST (the server ignores it) marks weir's entry closing; once it expired,
    # the next segment made a new entry that nothing inspected.
    reset = connection.segment(b"", offset=2**30, flags="R")
    reset[IP].ttl = RESET_TTL
    send(reset)
    time.sleep(11)
    send(connection.segment(b"GET /admin/x HTTP/1.1\r\nHost: b\r\n\r\n"))


WAYS = {"urgent": urgent, "hole": hole, "bad_checksum": bad_checksum,
        "tiny_fragment": tiny_fragment, "closing_entry": closing_entry}

for name in sys.argv[3:]:
    connection = Connection()
    WAYS[name](connection)
    print(name, "delivered" if connection.delivered() else "blocked", flush=True)
