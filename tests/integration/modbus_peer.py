#!/usr/bin/python3
"""A scriptable Modbus slave for the io_modbus tests: pymodbus does the slave.

pymodbus (an independent implementation) decodes every request PDU and answers
it from its datastore. In front of it sits a small proxy that can misbehave on
purpose (after libmodbus's unit-test-server): go silent, answer garbage, answer
with another unit id, answer every request with an exception, or answer late.

    modbus_peer.py --tcp PORT       the daemon connects to 127.0.0.1:PORT
    modbus_peer.py --rtu DEVICE     the daemon's side of a socat pty pair is the
                                    other end; RTU frames are split on a silence
                                    gap and checked by CRC here, then handed to
                                    pymodbus as TCP frames.

The proxy also plays the board dialects pymodbus does not know: Waveshare's
"flash" command (FC05 at 0x02NN with a time), Eletechsup R4D3B16 command words
(FC06 0x0100 / 0x0200 read back as 1 / 0) and the IO board's pulse coils
(coil 8+N starts a pulse of HR[N] ms on coil N).

Control: one command per line on stdin, one JSON line back on stdout:
    mode normal|silent|garbage|wrong_unit|exception|slow MS
    di N 0|1          set discrete input N
    counter N V       set input register N (the IO board's latched counters)
    coils             coils 0..31
    hr                holding registers 0..31
    events            writes seen: [t_monotonic, "co"|"hr", address, value]
    requests          request frames seen
"""
import argparse
import asyncio
import json
import os
import struct
import sys
import termios
import time
import tty

from pymodbus.datastore import (ModbusSequentialDataBlock, ModbusServerContext,
                                ModbusSlaveContext)
from pymodbus.server import StartAsyncTcpServer
from pymodbus.utilities import computeCRC

SIZE = 64


class LoggingBlock(ModbusSequentialDataBlock):
    def __init__(self, name, events):
        super().__init__(0, [0] * SIZE)
        self.name = name
        self.events = events

    def setValues(self, address, values):
        if not isinstance(values, list):
            values = [values]
        now = time.monotonic()
        for i, v in enumerate(values):
            self.events.append([now, self.name, address + i, int(v)])
        super().setValues(address, values)


class Peer:
    def __init__(self, args):
        self.args = args
        self.events = []
        self.co = LoggingBlock("co", self.events)
        self.hr = LoggingBlock("hr", self.events)
        self.di = ModbusSequentialDataBlock(0, [0] * SIZE)
        self.ir = ModbusSequentialDataBlock(0, [0] * SIZE)
        self.store = ModbusSlaveContext(di=self.di, co=self.co, hr=self.hr, ir=self.ir,
                                        zero_mode=True)
        self.context = ModbusServerContext(slaves={args.unit: self.store}, single=False)
        self.mode = "normal"
        self.delay = 0.0
        self.requests = 0
        self.tid = 0
        self.inner = None

    # --- the pymodbus side -------------------------------------------------
    async def ask(self, unit, pdu):
        """Sends one PDU to pymodbus over TCP; returns the reply PDU or None."""
        if self.inner is None:
            self.inner = await asyncio.open_connection("127.0.0.1", self.args.inner_port)
        reader, writer = self.inner
        self.tid = (self.tid + 1) & 0xFFFF
        writer.write(struct.pack(">HHHB", self.tid, 0, len(pdu) + 1, unit) + pdu)
        await writer.drain()
        try:
            head = await asyncio.wait_for(reader.readexactly(7), 0.5)
        except asyncio.TimeoutError:
            return None  # pymodbus ignores units it does not have
        _, _, length, _ = struct.unpack(">HHHB", head)
        return await reader.readexactly(length - 1)

    # --- dialects pymodbus does not know -------------------------------------
    async def pulse(self, ch, ms):
        self.co.setValues(ch, [1])
        await asyncio.sleep(ms / 1000)
        self.co.setValues(ch, [0])

    async def handle(self, unit, pdu):
        """The reply PDU for one request PDU, board dialects first."""
        fc = pdu[0]
        if self.args.dialect == "waveshare" and fc == 5 and len(pdu) == 5:
            addr, value = struct.unpack(">HH", pdu[1:5])
            if addr >> 8 == 0x02 and unit == self.args.unit:
                self.events.append([time.monotonic(), "flash", addr & 0xFF, value * 100])
                asyncio.ensure_future(self.pulse(addr & 0xFF, value * 100))
                return pdu
        if self.args.dialect == "r4d3b16" and fc == 6 and len(pdu) == 5:
            addr, value = struct.unpack(">HH", pdu[1:5])
            if value in (0x0100, 0x0200) and unit == self.args.unit:
                self.hr.setValues(addr, [1 if value == 0x0100 else 0])
                return pdu
        reply = await self.ask(unit, pdu)
        if self.args.dialect == "ioboard" and fc == 5 and reply and reply[0] == 5:
            addr, value = struct.unpack(">HH", pdu[1:5])
            if 8 <= addr < 16 and value == 0xFF00:
                ch = addr - 8
                ms = self.hr.getValues(ch, 1)[0]
                self.co.setValues(addr, [0])  # the pulse coil reads 0 again
                asyncio.ensure_future(self.pulse(ch, ms))
        return reply

    async def reply(self, unit, pdu):
        """Applies the misbehaviour; returns (unit, reply PDU) or None."""
        self.requests += 1
        if self.mode == "silent":
            return None
        if self.mode == "slow":
            await asyncio.sleep(self.delay)
        if self.mode == "exception":
            return unit, bytes([pdu[0] | 0x80, 4])
        rpdu = await self.handle(unit, pdu)
        if rpdu is None:
            return None
        if self.mode == "garbage":
            return unit, bytes([pdu[0]]) + os.urandom(3)
        if self.mode == "wrong_unit":
            return (unit % 247) + 1, rpdu
        return unit, rpdu

    # --- the daemon side ---------------------------------------------------
    async def serve_tcp(self, reader, writer):
        try:
            while True:
                head = await reader.readexactly(7)
                tid, proto, length, unit = struct.unpack(">HHHB", head)
                pdu = await reader.readexactly(length - 1)
                out = await self.reply(unit, pdu)
                if out is None:
                    continue
                if self.mode == "garbage":
                    writer.write(os.urandom(9))
                else:
                    ounit, rpdu = out
                    writer.write(struct.pack(">HHHB", tid, proto, len(rpdu) + 1, ounit) + rpdu)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def serve_rtu(self, path):
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(fd)
        attrs = termios.tcgetattr(fd)
        attrs[3] &= ~termios.ECHO
        termios.tcsetattr(fd, termios.TCSANOW, attrs)
        loop = asyncio.get_running_loop()
        buf = bytearray()
        got = asyncio.Event()

        def readable():
            try:
                buf.extend(os.read(fd, 512))
            except BlockingIOError:
                return
            got.set()

        loop.add_reader(fd, readable)
        while True:
            await got.wait()
            got.clear()
            # a frame ends with a silence (T3.5 at 9600 is 4 ms; ptys are instant)
            while True:
                try:
                    await asyncio.wait_for(got.wait(), 0.005)
                    got.clear()
                except asyncio.TimeoutError:
                    break
            frame, buf[:] = bytes(buf), b""
            if len(frame) < 4 or computeCRC(frame[:-2]) != struct.unpack(">H", frame[-2:])[0]:
                continue  # a slave ignores a bad frame
            out = await self.reply(frame[0], frame[1:-2])
            if out is None:
                continue
            ounit, rpdu = out
            adu = bytes([ounit]) + rpdu
            adu += struct.pack(">H", computeCRC(adu))
            if self.mode == "garbage":
                adu = bytes([frame[0]]) + os.urandom(len(adu) - 1)
            os.write(fd, adu)

    # --- control -----------------------------------------------------------
    def command(self, line):
        words = line.split()
        if not words:
            return {"ok": False}
        cmd, rest = words[0], words[1:]
        if cmd == "mode":
            self.mode = rest[0]
            self.delay = int(rest[1]) / 1000 if len(rest) > 1 else 0.0
            return {"ok": True}
        if cmd == "di":
            self.di.setValues(int(rest[0]), [int(rest[1])])
            return {"ok": True}
        if cmd == "counter":
            self.ir.setValues(int(rest[0]), [int(rest[1]) & 0xFFFF])
            return {"ok": True}
        if cmd == "coils":
            return {"ok": True, "coils": [int(v) for v in self.co.getValues(0, 32)]}
        if cmd == "hr":
            return {"ok": True, "hr": self.hr.getValues(0, 32)}
        if cmd == "events":
            return {"ok": True, "events": self.events}
        if cmd == "requests":
            return {"ok": True, "requests": self.requests}
        return {"ok": False, "error": f"unknown command {cmd}"}

    async def control(self):
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while True:
            line = await reader.readline()
            if not line:
                os._exit(0)
            print(json.dumps(self.command(line.decode())), flush=True)

    async def main(self):
        asyncio.ensure_future(StartAsyncTcpServer(
            self.context, address=("127.0.0.1", self.args.inner_port)))
        for _ in range(200):
            try:
                self.inner = await asyncio.open_connection("127.0.0.1", self.args.inner_port)
                break
            except OSError:
                await asyncio.sleep(0.02)
        if self.args.tcp:
            await asyncio.start_server(self.serve_tcp, "127.0.0.1", self.args.tcp)
        else:
            asyncio.ensure_future(self.serve_rtu(self.args.rtu))
        print(json.dumps({"ok": True, "ready": True}), flush=True)
        await self.control()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tcp", type=int)
    ap.add_argument("--rtu")
    ap.add_argument("--inner-port", type=int, required=True)
    ap.add_argument("--unit", type=int, default=1)
    ap.add_argument("--dialect", default="plain")
    asyncio.run(Peer(ap.parse_args()).main())


if __name__ == "__main__":
    main()
