"""The real AVR firmware (build/firmware/iob.elf) under simavr, through iob-sim.

Every timing is read from the rig's simulated clock, not the wall clock. The
masters are mbpoll (Debian's, external) and firmware_rig.Master (a minimal
independent one, for raw and malformed frames).
"""
import re
import struct
import subprocess

import pytest

from firmware_rig import (COIL_PULSE, COIL_WDT_ACK, HR_DEBOUNCE, HR_WATCHDOG, IN,
                          IR_CRC_ERRORS, IR_FRAMES_OK, IR_FW_VERSION, IR_STATUS,
                          IR_WDT_TRIPS, OUT, STATUS_FIRE, STATUS_WDT_ARMED,
                          STATUS_WDT_TRIPPED, Master, Rig, crc16)


@pytest.fixture
def rig(request):
    args = getattr(request, "param", ())
    r = Rig(*args)
    m = Master(r.pty)
    m.wait_ready()
    yield r, m
    m.close()
    r.close()


def mbpoll(pty, *args, values=()):
    """mbpoll once; values (after the device, as mbpoll wants them) make it a write."""
    p = subprocess.run(["mbpoll", "-m", "rtu", "-a", "1", "-b", "19200", "-P", "even", "-0",
                        "-1", "-o", "0.5", *args, pty, *values], capture_output=True, text=True,
                       timeout=20)
    values = [int(v) for v in re.findall(r"^\[\d+\]:\s+(-?\d+)", p.stdout, re.M)]
    return p.returncode, values, p.stdout + p.stderr


def mbwrite(pty, table, ref, *values):
    rc, _, out = mbpoll(pty, "-t", table, "-r", str(ref), values=values)
    assert rc == 0 and "Written" in out, out


def bit(n):
    return 1 << n


def test_boot_nothing_pulses():
    """From the first instruction, through the fire loop's filter and 1.5 s of simulated time."""
    r = Rig("-x", "0")
    try:
        r.sleep_sim(1_500_000)
        outs = r.outs()
        assert outs[0] == (0, 0)
        assert all(mask == 0 for _, mask in outs), outs
    finally:
        r.close()


def test_register_map_with_mbpoll(rig):
    r, m = rig
    pty = r.pty
    rc, v, out = mbpoll(pty, "-t", "0", "-r", "0", "-c", "17")
    assert rc == 0 and v == [0] * 17, out
    rc, v, out = mbpoll(pty, "-t", "1", "-r", "0", "-c", "7")
    assert rc == 0 and v == [0, 0, 1, 0, 0, 0, 0], out  # only the fire loop is closed
    rc, v, out = mbpoll(pty, "-t", "4", "-r", "0", "-c", "13")
    assert rc == 0 and v == [500] * 8 + [3, 0, 1, 192, 0], out
    rc, v, out = mbpoll(pty, "-t", "3", "-r", "0", "-c", "16")
    assert rc == 0 and len(v) == 16, out
    assert v[IR_FW_VERSION] == 0x0001 and v[14:] == [1, 192], out

    # Writes: a holding register (06) and several (16), a coil (05) and several (15).
    mbwrite(pty, "4", HR_DEBOUNCE, "7")
    mbwrite(pty, "4", 0, "120", "130")
    assert mbpoll(pty, "-t", "4", "-r", "0", "-c", "9")[1] == [120, 130] + [500] * 6 + [7]
    start = r.mark()
    mbwrite(pty, "0", OUT["led_green"], "1")
    mbwrite(pty, "0", OUT["stop"], "1", "0", "1")
    assert mbpoll(pty, "-t", "0", "-r", "0", "-c", "8")[1] == [0, 0, 1, 0, 1, 0, 0, 0]
    r.wait_line(r"^out .*stop=1 led_green=0 led_red=1", start)

    # Exceptions: past the end of each table (02), a bad value (03).
    for table, first in (("0", 17), ("1", 7), ("3", 16), ("4", 13)):
        rc, _, out = mbpoll(pty, "-t", table, "-r", str(first), "-c", "1")
        assert rc != 0 and "Illegal data address" in out, out
    rc, _, out = mbpoll(pty, "-t", "4", "-r", str(HR_DEBOUNCE), values=["256"])
    assert rc != 0 and "Illegal data value" in out, out


def test_pulse_ends_when_host_goes_silent(rig):
    r, m = rig
    start = r.mark()
    assert m.write_reg(OUT["open_a"], 250) is not None
    assert m.write_coil(COIL_PULSE + OUT["open_a"], 1) is not None
    # The host goes silent: nobody will ever cancel the pulse.
    r.sleep_sim(600_000)
    outs = [(t, mask) for t, mask in r.outs(start)]
    assert [mask & bit(OUT["open_a"]) for _, mask in outs] == [1, 0], outs
    length = outs[1][0] - outs[0][0]
    assert 249_000 <= length <= 252_000, length


@pytest.mark.parametrize("rig", [("-d", "120", "-H", "200")], indirect=True)
def test_open_pulse_makes_a_person_walk_and_counts(rig):
    r, m = rig
    start = r.mark()
    assert m.write_coil(COIL_PULSE + OUT["open_b"], 1) is not None
    line = r.wait_line(r"^walk .*dir=b", start, timeout=3)
    t_walk = int(re.search(r"t=(\d+)", line).group(1))
    t_open = next(t for t, mask in r.outs(start) if mask & bit(OUT["open_b"]))
    assert 119_000 <= t_walk - t_open <= 121_000
    r.wait_line(r"^in .*pass_b=0", start, timeout=3)
    assert m.read_regs(4, IN["pass_b"], 1) == [1]
    assert m.read_regs(4, IN["pass_a"], 1) == [0]


@pytest.mark.parametrize("rig", [("-d", "never",)], indirect=True)
def test_nobody_walks_with_never(rig):
    r, m = rig
    start = r.mark()
    assert m.write_reg(OUT["open_a"], 100) is not None
    assert m.write_coil(COIL_PULSE + OUT["open_a"], 1) is not None
    r.sleep_sim(500_000)
    assert not any(line.startswith("walk") for line in r.lines[start:])
    assert m.read_regs(4, IN["pass_a"], 1) == [0]


def test_counter_latches_a_short_pulse_between_polls(rig):
    r, m = rig
    before = m.read_regs(4, 0, 7)
    start = r.mark()
    r.send("pulse_in pass_a 15")  # 15 ms active: over the 3 ms debounce, between two polls
    r.wait_line(r"^in .*pass_a=0", start)
    assert m.read_bits(2, IN["pass_a"], 1) == [0]  # the level is gone ...
    after = m.read_regs(4, 0, 7)
    assert after[IN["pass_a"]] == before[IN["pass_a"]] + 1  # ... the count stays
    assert after[1:] == before[1:]
    start = r.mark()
    r.send("pulse_in pass_a 1")  # shorter than the debounce: no count
    r.wait_line(r"^in .*pass_a=0", start)
    r.sleep_sim(20_000)
    assert m.read_regs(4, IN["pass_a"], 1) == [after[IN["pass_a"]]]


def test_host_watchdog_drives_outputs_safe(rig):
    r, m = rig
    assert m.write_coil(OUT["led_green"], 1) is not None
    assert m.write_coil(OUT["stop"], 1) is not None
    start = r.mark()
    assert m.write_reg(HR_WATCHDOG, 300) is not None  # the last request
    t_last = r.now_us()
    r.sleep_sim(600_000)
    outs = r.outs(start)
    assert outs and outs[-1][1] == 0, outs
    assert 250_000 <= outs[-1][0] - t_last <= 330_000, (outs, t_last)
    status = m.read_regs(4, IR_STATUS, 1)[0]
    assert status & STATUS_WDT_TRIPPED and status & STATUS_WDT_ARMED
    assert m.read_regs(4, IR_WDT_TRIPS, 1) == [1]
    assert m.write_coil(COIL_WDT_ACK, 1) is not None
    assert not m.read_regs(4, IR_STATUS, 1)[0] & STATUS_WDT_TRIPPED
    assert m.write_reg(HR_WATCHDOG, 0) is not None


def test_fire_loop_cut_opens_both_within_50ms_and_refuses_writes(rig):
    r, m = rig
    assert m.write_coil(OUT["led_red"], 1) is not None
    start = r.mark()
    r.send("in fire_loop_ok 0")
    t_cut = int(re.search(r"t=(\d+)", r.wait_line(r"^in .*fire_loop_ok=0", start)).group(1))
    r.sleep_sim(100_000)
    both = bit(OUT["open_a"]) | bit(OUT["open_b"])
    t_open = next(t for t, mask in r.outs(start) if mask & both == both)
    assert t_open - t_cut <= 50_000, t_open - t_cut
    assert m.read_regs(4, IR_STATUS, 1)[0] & STATUS_FIRE
    # Host commands refused while the loop is open: exception 04, outputs unchanged.
    assert m.write_coil(OUT["open_a"], 0) == bytes([0x85, 0x04])
    assert m.write_coil(COIL_PULSE + OUT["open_b"], 0) == bytes([0x85, 0x04])
    r.sleep_sim(50_000)
    assert r.outs()[-1][1] & both == both
    start = r.mark()
    r.send("in fire_loop_ok 1")
    r.sleep_sim(100_000)
    assert r.outs(start)[-1][1] & both == 0
    assert not m.read_regs(4, IR_STATUS, 1)[0] & STATUS_FIRE


def test_crc_bad_and_foreign_frames_are_ignored(rig):
    r, m = rig
    crc_before = m.read_regs(4, IR_CRC_ERRORS, 1)[0]
    frames_before = m.read_regs(4, IR_FRAMES_OK, 1)[0]
    adu = bytes([1, 6, 0, HR_DEBOUNCE, 0, 9])
    bad = adu + bytes([crc16(adu)[0] ^ 0x01, crc16(adu)[1]])
    assert m.raw(bad, timeout=0.3) is None
    foreign = bytes([7, 6, 0, HR_DEBOUNCE, 0, 9])
    assert m.raw(foreign + crc16(foreign), timeout=0.3) is None
    assert m.read_regs(3, HR_DEBOUNCE, 1) == [3]  # neither write took effect
    assert m.read_regs(4, IR_CRC_ERRORS, 1)[0] == crc_before + 1
    # The two reads of frames_ok and debounce count; the bad and foreign frames do not.
    assert m.read_regs(4, IR_FRAMES_OK, 1)[0] == frames_before + 3


# One request sequence, every function code and exception path, for both ports.
SEQUENCE = [
    struct.pack(">BHH", 1, 0, 17), struct.pack(">BHH", 2, 0, 7),
    struct.pack(">BHH", 3, 0, 13), struct.pack(">BHH", 4, 0, 16),
    struct.pack(">BHH", 6, 3, 1234), struct.pack(">BHHBB", 15, 3, 3, 1, 0b101),
    struct.pack(">BHHBHH", 16, 5, 2, 4, 77, 88), struct.pack(">BHH", 1, 0, 8),
    struct.pack(">BHH", 3, 0, 13), struct.pack(">BHH", 8, 0, 0x1234),
    struct.pack(">BHH", 3, 13, 1), struct.pack(">BHH", 3, 0, 126),
    struct.pack(">BHH", 6, HR_DEBOUNCE, 300), struct.pack(">BHH", 5, 0, 0x1234),
    struct.pack(">BHH", 0x2B, 0, 0), struct.pack(">BHH", 4, 16, 1),
    struct.pack(">BHH", 5, COIL_WDT_ACK, 0xFF00), struct.pack(">BHH", 4, 0, 16),
]


def test_host_port_and_avr_answer_identically():
    answers = []
    for host in (False, True):
        r = Rig(host=host) if host else Rig()
        m = Master(r.pty)
        try:
            m.wait_ready()
            answers.append([m.request(pdu) for pdu in SEQUENCE])
        finally:
            m.close()
            r.close()
    avr, host = answers
    assert all(a is not None for a in avr)
    for pdu, a, h in zip(SEQUENCE, avr, host):
        assert a == h, f"request {pdu.hex()}: avr {a.hex()} host {h.hex() if h else None}"


def test_unit_id_and_baud_changed_over_modbus_apply_after_a_reset():
    """Committed to the AVR's EEPROM over Modbus, kept through a reset; the board
    then answers only as the new unit, and its UART runs at the new baud: the
    same request takes about twice as long in simulated time at 9600 as at 19200."""
    r = Rig()  # paced: the master's own delays stay small next to the line's
    m = Master(r.pty)
    try:
        m.wait_ready()

        def sim_us_of_a_read():
            t = r.now_us()
            assert m.read_regs(4, 0, 16)
            return r.now_us() - t

        fast = min(sim_us_of_a_read() for _ in range(5))
        regs = struct.pack(">BHHBHHH", 16, 10, 3, 6, 9, 96, 0xA5C3)
        assert m.request(regs) == regs[:5]
        assert m.read_regs(4, 14, 2) == [1, 192]  # in use until the reset
        assert m.read_regs(4, IR_STATUS, 1)[0] & 0x10  # config pending
        start = r.mark()
        r.send("reset")
        r.wait_line(r"^reset ", start)
        assert all(mask == 0 for _, mask in r.outs(start)), "nothing pulses at the reset"
        assert m.request(struct.pack(">BHH", 4, 14, 2), unit=1) is None  # old unit: silence
        m.unit = 9
        m.wait_ready()
        assert m.read_regs(4, 14, 2) == [9, 96]
        assert m.read_regs(4, IR_STATUS, 1)[0] == 0
        slow = min(sim_us_of_a_read() for _ in range(5))
        # 8 + 37 bytes on the wire, 11 bits each: 25.8 ms at 19200, 51.6 ms at 9600
        print(f"16-register read, simulated: {fast} us at 19200, {slow} us at 9600")
        assert 1.5 <= slow / fast <= 2.5, (fast, slow)
    finally:
        m.close()
        r.close()
