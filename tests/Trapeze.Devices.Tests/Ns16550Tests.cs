using Trapeze.Devices.Serial;

namespace Trapeze.Devices.Tests;

public sealed class Ns16550Tests
{
    // Register offsets and bits, in the 16550 data sheet's names.
    private const ulong RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7;

    private sealed class Rig
    {
        public readonly FakeIrqSink Sink = new();
        public readonly List<byte> Output = [];
        public readonly Ns16550 Uart;

        public Rig(int backlog = Ns16550.DefaultBacklogCapacity)
        {
            Uart = new Ns16550(Sink.Line(10), b => Output.Add(b), backlog);
        }

        public bool Irq => Sink.Level(10);

        public byte In(ulong offset)
        {
            Assert.True(Uart.Read(offset, 1, out ulong value));
            Assert.True(value <= 0xff);
            return (byte)value;
        }

        public void Out(ulong offset, byte value) => Assert.True(Uart.Write(offset, 1, value));

        public void Input(params byte[] bytes) => Assert.Equal(bytes.Length, Uart.TryEnqueueInput(bytes));
    }

    [Fact]
    public void Reset_values_match_qemu()
    {
        var rig = new Rig();
        Assert.Equal(0x00, rig.In(IER));
        Assert.Equal(0x01, rig.In(IIR));
        Assert.Equal(0x00, rig.In(LCR));
        Assert.Equal(0x08, rig.In(MCR));
        Assert.Equal(0x60, rig.In(LSR));
        Assert.Equal(0xb0, rig.In(MSR));
        Assert.Equal(0x00, rig.In(SCR));
        Assert.False(rig.Irq);
    }

    [Fact]
    public void Thr_writes_go_to_the_output_sink()
    {
        var rig = new Rig();
        foreach (byte b in "hi\n"u8) rig.Out(THR, b);
        Assert.Equal("hi\n"u8.ToArray(), rig.Output);
        Assert.Equal(0x60, rig.In(LSR) & 0x60); // THRE and TEMT stay set: the transmitter is instant
    }

    [Fact]
    public void Receive_fifo_delivers_in_order_and_sets_data_ready()
    {
        var rig = new Rig();
        rig.Out(FCR, 0x07); // enable and clear
        Assert.Equal(0, rig.In(LSR) & 0x01);
        rig.Input(1, 2, 3);
        Assert.Equal(1, rig.In(LSR) & 0x01);
        Assert.Equal(1, rig.In(RBR));
        Assert.Equal(2, rig.In(RBR));
        Assert.Equal(3, rig.In(RBR));
        Assert.Equal(0, rig.In(LSR) & 0x01);
        Assert.Equal(0, rig.In(RBR)); // empty FIFO reads 0
    }

    [Fact]
    public void Input_beyond_the_fifo_waits_in_the_backlog_and_is_not_lost()
    {
        var rig = new Rig(backlog: 40);
        rig.Out(FCR, 0x01);
        byte[] data = Enumerable.Range(0, 50).Select(i => (byte)i).ToArray();
        Assert.Equal(40, rig.Uart.TryEnqueueInput(data)); // the backlog is bounded at 40 ...
        Assert.Equal(24, rig.Uart.BacklogCount);          // ... and 16 of them moved on into the FIFO
        Assert.Equal(10, rig.Uart.TryEnqueueInput(data.AsSpan(40)));
        Assert.Equal(34, rig.Uart.BacklogCount);
        var received = new List<byte>();
        while ((rig.In(LSR) & 1) != 0) received.Add(rig.In(RBR));
        Assert.Equal(data, received);
        Assert.Equal(0, rig.In(LSR) & 0x02); // no overrun
    }

    [Fact]
    public void Without_fifos_the_holding_register_takes_one_byte_at_a_time()
    {
        var rig = new Rig();
        rig.Input(7, 8);
        Assert.Equal(1, rig.Uart.BacklogCount);
        Assert.Equal(7, rig.In(RBR));
        Assert.Equal(8, rig.In(RBR));
        Assert.Equal(0, rig.In(LSR) & 1);
    }

    [Fact]
    public void Received_data_interrupt_honours_the_trigger_level_and_character_timeout()
    {
        var rig = new Rig();
        rig.Out(FCR, 0x81); // FIFO on, trigger 8
        rig.Out(IER, 0x01);
        Assert.False(rig.Irq);
        rig.Input(1, 2, 3);
        Assert.True(rig.Irq);
        Assert.Equal(0xcc, rig.In(IIR)); // below the trigger with the line idle: character timeout
        rig.Input(4, 5, 6, 7, 8);
        Assert.Equal(0xc4, rig.In(IIR)); // at the trigger level: received data available
        for (int i = 0; i < 8; i++) rig.In(RBR);
        Assert.Equal(0xc1, rig.In(IIR));
        Assert.False(rig.Irq);
    }

    [Fact]
    public void Without_fifos_any_received_byte_interrupts()
    {
        var rig = new Rig();
        rig.Out(IER, 0x01);
        rig.Input(42);
        Assert.True(rig.Irq);
        Assert.Equal(0x04, rig.In(IIR));
        Assert.Equal(42, rig.In(RBR));
        Assert.Equal(0x01, rig.In(IIR));
        Assert.False(rig.Irq);
    }

    [Fact]
    public void Thre_interrupt_follows_the_16550_rules()
    {
        var rig = new Rig();
        rig.Out(FCR, 0x01);
        Assert.False(rig.Irq);
        rig.Out(IER, 0x02); // enabling ETBEI with THR empty raises THRE
        Assert.True(rig.Irq);
        Assert.Equal(0xc2, rig.In(IIR)); // reading IIR with THRE as the source clears it
        Assert.False(rig.Irq);
        Assert.Equal(0xc1, rig.In(IIR));

        rig.Out(THR, (byte)'x'); // THR written, sent, empty again: THRE again
        Assert.True(rig.Irq);
        Assert.Equal(0xc2, rig.In(IIR));
        Assert.False(rig.Irq);

        rig.Out(IER, 0x02); // rewriting the same IER raises nothing new
        Assert.False(rig.Irq);
        rig.Out(IER, 0x00);
        rig.Out(IER, 0x02); // toggling does (Linux's THRE test)
        Assert.True(rig.Irq);
        rig.Out(IER, 0x00); // masked
        Assert.False(rig.Irq);
    }

    [Fact]
    public void A_break_is_a_nul_with_lsr_bi_and_a_line_status_interrupt()
    {
        var rig = new Rig();
        rig.Out(FCR, 0x01);
        rig.Out(IER, 0x05); // received data and line status
        Assert.True(rig.Uart.TrySendBreak());
        Assert.True(rig.Irq);
        Assert.Equal(0xc6, rig.In(IIR)); // receiver line status first
        Assert.Equal(0x71, rig.In(LSR)); // DR | BI | THRE | TEMT; reading clears BI
        Assert.Equal(0x61, rig.In(LSR));
        Assert.Equal(0, rig.In(RBR)); // the all-zero frame
        Assert.False(rig.Irq);
        // The key that follows is an ordinary character (Linux's SysRq: break, then the key).
        rig.Input((byte)'o');
        Assert.Equal((byte)'o', rig.In(RBR));
    }

    [Fact]
    public void A_break_waits_for_received_data_to_be_read()
    {
        var rig = new Rig();
        rig.Input((byte)'a');
        Assert.False(rig.Uart.TrySendBreak());
        Assert.Equal((byte)'a', rig.In(RBR));
        Assert.True(rig.Uart.TrySendBreak());
        Assert.Equal(0x71, rig.In(LSR));
    }

    [Fact]
    public void Interrupt_priorities_line_status_then_data_then_thre_then_modem()
    {
        var rig = new Rig();
        rig.Out(FCR, 0x01); // trigger 1
        rig.Out(MCR, 0x10); // loopback, to make an overrun
        for (int i = 0; i < 17; i++) rig.Out(THR, (byte)i);
        rig.Out(IER, 0x0f);
        Assert.Equal(0xc6, rig.In(IIR)); // receiver line status (overrun)
        Assert.Equal(0x63, rig.In(LSR)); // DR | OE | THRE | TEMT; reading clears OE
        Assert.Equal(0xc4, rig.In(IIR)); // then received data
        for (int i = 0; i < 16; i++) Assert.Equal(i, rig.In(RBR)); // the 17th byte was lost
        Assert.Equal(0xc2, rig.In(IIR)); // then THRE
        Assert.Equal(0xc1, rig.In(IIR));
    }

    [Fact]
    public void Loopback_routes_thr_to_rbr_and_modem_outputs_to_inputs()
    {
        var rig = new Rig();
        rig.Out(MCR, 0x10 | 0x0a); // loop, RTS, OUT2
        Assert.Equal(0x90, rig.In(MSR) & 0xf0); // CTS, DCD (Linux's existence test)
        rig.Out(MCR, 0x10 | 0x05); // loop, DTR, OUT1
        Assert.Equal(0x60, rig.In(MSR) & 0xf0); // DSR, RI
        rig.Out(THR, 0x55);
        Assert.Empty(rig.Output);
        Assert.Equal(0x55, rig.In(RBR));

        // Host input waits while the receiver is looped back, then arrives.
        rig.Input(9);
        Assert.Equal(0, rig.In(LSR) & 1);
        rig.Out(MCR, 0x08);
        Assert.Equal(9, rig.In(RBR));
        Assert.Equal(0xb0, rig.In(MSR));
    }

    [Fact]
    public void Divisor_latch_shares_offsets_zero_and_one()
    {
        var rig = new Rig();
        rig.Out(IER, 0x05);
        rig.Out(LCR, 0x83);
        Assert.Equal(0x0c, rig.In(DLL)); // reset divisor: 9600 baud
        Assert.Equal(0x00, rig.In(DLM));
        rig.Out(DLL, 0x01);
        rig.Out(DLM, 0x02);
        Assert.Equal(0x01, rig.In(DLL));
        Assert.Equal(0x02, rig.In(DLM));
        Assert.Empty(rig.Output); // a DLL write is not a transmission
        rig.Out(LCR, 0x03);
        Assert.Equal(0x05, rig.In(IER));
        Assert.Equal(0x03, rig.In(LCR));
    }

    [Fact]
    public void Fifo_control_enables_clears_and_reports_in_iir()
    {
        var rig = new Rig();
        rig.Input(1);
        rig.Out(FCR, 0x01); // changing mode empties the FIFO ... and the backlog refills it
        Assert.Equal(0xc1, rig.In(IIR));
        rig.Out(MCR, 0x18); // loopback: nothing more arrives from the host
        rig.Out(THR, 5);
        rig.Out(THR, 6);
        rig.Out(FCR, 0x03); // clear receive
        Assert.Equal(0, rig.In(LSR) & 1);
        rig.Out(FCR, 0x00);
        Assert.Equal(0x01, rig.In(IIR));
    }

    [Fact]
    public void Scratch_register_holds_any_byte()
    {
        var rig = new Rig();
        rig.Out(SCR, 0xa5);
        Assert.Equal(0xa5, rig.In(SCR));
        rig.Out(SCR, 0x5a);
        Assert.Equal(0x5a, rig.In(SCR));
    }

    [Fact]
    public void Access_sizes_and_bounds_follow_qemu_serial_mm()
    {
        var rig = new Rig();
        Assert.True(rig.Uart.Write(THR, 4, 0x1234_5641)); // low byte only
        Assert.True(rig.Uart.Write(THR, 8, 0x42));
        Assert.Equal("AB"u8.ToArray(), rig.Output);
        Assert.True(rig.Uart.Read(LSR, 1, out ulong value));
        Assert.Equal(0x60ul, value);
        Assert.True(rig.Uart.Read(4, 4, out value)); // 32-bit read at 4 is MCR
        Assert.Equal(0x08ul, value);
        Assert.False(rig.Uart.Read(LSR, 2, out _)); // misaligned
        Assert.False(rig.Uart.Read(8, 1, out _)); // QEMU maps only 8 bytes of registers
        Assert.False(rig.Uart.Write(0xff, 1, 0));
        Assert.False(rig.Uart.Read(0, 3, out _));
        Assert.Equal(0x100ul, rig.Uart.Size);
    }

    [Fact]
    public void Linux_8250_autoconfig_detects_a_16550A()
    {
        var rig = new Rig();
        Assert.Equal("16550A", LinuxAutoconfig(rig));
        Assert.Empty(rig.Output); // the probe transmitted only in loopback
    }

    [Fact]
    public void Linux_startup_thre_and_txen_tests_pass()
    {
        var rig = new Rig();
        LinuxAutoconfig(rig);
        // serial8250_do_startup: clear FIFOs, clear interrupt registers.
        rig.Out(FCR, 0x01);
        rig.Out(FCR, 0x07);
        rig.Out(FCR, 0x00);
        rig.In(LSR); rig.In(RBR); rig.In(IIR); rig.In(MSR);
        Assert.NotEqual(0xff, rig.In(LSR));

        // UART_BUG_THRE test: THRE must be re-asserted after IER is toggled.
        rig.Out(IER, 0x02);
        byte iir1 = rig.In(IIR);
        rig.Out(IER, 0);
        rig.Out(IER, 0x02);
        byte iir = rig.In(IIR);
        rig.Out(IER, 0);
        Assert.Equal(0, iir1 & 0x01);
        Assert.Equal(0, iir & 0x01);

        // UART_BUG_TXEN test.
        rig.Out(LCR, 0x03);
        rig.Out(MCR, 0x0b);
        rig.Out(IER, 0x02);
        byte lsr = rig.In(LSR);
        iir = rig.In(IIR);
        rig.Out(IER, 0);
        Assert.False((lsr & 0x40) != 0 && (iir & 0x01) != 0);
    }

    [Fact]
    public void Uboot_ns16550_init_putc_getc()
    {
        var rig = new Rig();
        // NS16550_init: wait for TEMT, IER=0, MCR=DTR|RTS, FCR=enable|clear, LCR=DLAB|8N1, divisor, LCR=8N1.
        Assert.NotEqual(0, rig.In(LSR) & 0x40);
        rig.Out(IER, 0);
        rig.Out(MCR, 0x03);
        rig.Out(FCR, 0x07);
        rig.Out(LCR, 0x83);
        rig.Out(DLL, 2);
        rig.Out(DLM, 0);
        rig.Out(LCR, 0x03);
        foreach (byte b in "U-Boot"u8)
        {
            Assert.NotEqual(0, rig.In(LSR) & 0x20);
            rig.Out(THR, b);
        }
        Assert.Equal("U-Boot"u8.ToArray(), rig.Output);
        rig.Input((byte)'\r');
        Assert.NotEqual(0, rig.In(LSR) & 0x01);
        Assert.Equal((byte)'\r', rig.In(RBR));
    }

    [Fact]
    public void Irq_line_tracks_the_interrupt_identification()
    {
        var rig = new Rig();
        rig.Out(FCR, 0x01);
        rig.Out(IER, 0x01);
        int calls = rig.Sink.Calls;
        rig.Input(1);
        Assert.True(rig.Irq);
        rig.Input(2); // still high: no redundant call
        Assert.Equal(calls + 1, rig.Sink.Calls);
        rig.In(RBR);
        rig.In(RBR);
        Assert.False(rig.Irq);
    }

    [Fact]
    public void Reset_lowers_the_line_and_keeps_the_backlog()
    {
        var rig = new Rig(backlog: 100);
        rig.Out(FCR, 0x01);
        rig.Out(IER, 0x01);
        rig.Input(Enumerable.Range(0, 30).Select(i => (byte)i).ToArray());
        Assert.True(rig.Irq);
        rig.Uart.Reset();
        Assert.False(rig.Irq);
        // The 16 bytes in the FIFO went with the reset; FIFOs are off after it, so one byte of the
        // 14 still waiting enters the holding register.
        Assert.Equal(13, rig.Uart.BacklogCount);
        Assert.Equal(16, rig.In(RBR));
    }

    [Fact]
    public async Task Blocking_input_from_a_host_thread_reaches_a_draining_guest_intact()
    {
        var rig = new Rig(backlog: 64);
        rig.Out(FCR, 0x01);
        byte[] data = Enumerable.Range(0, 20_000).Select(i => (byte)(i * 7)).ToArray();
        var host = Task.Factory.StartNew(() => rig.Uart.EnqueueInput(data), TaskCreationOptions.LongRunning);
        var received = new List<byte>(data.Length);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (received.Count < data.Length && DateTime.UtcNow < deadline)
        {
            if ((rig.In(LSR) & 1) != 0) received.Add(rig.In(RBR));
            else Thread.Yield();
        }
        await host.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(data, received);
    }

    [Fact]
    public void Blocking_input_can_be_cancelled()
    {
        var rig = new Rig(backlog: 4);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        Assert.Throws<OperationCanceledException>(() => rig.Uart.EnqueueInput(new byte[100], cts.Token));
    }

    /// <summary>The register sequence of Linux's 8250 autoconfig() and autoconfig_16550a(), including
    /// size_fifo(), reduced to the decisions that tell a 16550A from its relatives.</summary>
    private static string LinuxAutoconfig(Rig rig)
    {
        // IER existence test.
        byte scratch = rig.In(IER);
        rig.Out(IER, 0);
        byte scratch2 = (byte)(rig.In(IER) & 0x0f);
        rig.Out(IER, 0x0f);
        byte scratch3 = (byte)(rig.In(IER) & 0x0f);
        rig.Out(IER, scratch);
        if (scratch2 != 0 || scratch3 != 0x0f) return "none (IER test)";

        byte saveMcr = rig.In(MCR);
        byte saveLcr = rig.In(LCR);
        // Loopback test.
        rig.Out(MCR, 0x10 | 0x0a);
        byte status1 = (byte)(rig.In(MSR) & 0xf0);
        rig.Out(MCR, saveMcr);
        if (status1 != 0x90) return "none (LOOP test)";

        rig.Out(LCR, 0xbf); // UART_LCR_CONF_MODE_B
        rig.Out(2, 0);      // EFR
        rig.Out(LCR, 0);
        rig.Out(FCR, 0x01);
        string type;
        switch (rig.In(IIR) >> 6)
        {
            case 0: type = "8250/16450"; break;
            case 1: type = "unknown"; break;
            case 2: type = "16550"; break;
            default: type = Autoconfig16550A(rig); break;
        }
        rig.Out(LCR, saveLcr);
        // Reset the UART.
        rig.Out(MCR, saveMcr);
        rig.Out(FCR, 0x01);
        rig.Out(FCR, 0x07);
        rig.Out(FCR, 0x00);
        rig.In(RBR);
        rig.Out(IER, 0);
        return type;
    }

    private static string Autoconfig16550A(Rig rig)
    {
        rig.Out(LCR, 0x80); // UART_LCR_CONF_MODE_A
        if (rig.In(2) == 0) return "16650/EFRv1";
        rig.Out(LCR, 0xbf);
        if (rig.In(2) == 0) return "EFRv2";
        rig.Out(LCR, 0);
        byte status1 = rig.In(MCR);
        rig.Out(LCR, 0xe0);
        byte status2 = rig.In(2); // EXCR1
        if (((status2 ^ status1) & 0x10) == 0)
        {
            rig.Out(LCR, 0);
            rig.Out(MCR, (byte)(status1 ^ 0x10));
            rig.Out(LCR, 0xe0);
            status2 = rig.In(2);
            rig.Out(LCR, 0);
            rig.Out(MCR, status1);
            if (((status2 ^ status1) & 0x10) != 0) return "NS16550A";
        }
        rig.Out(LCR, 0);
        rig.Out(FCR, 0x01 | 0x20);
        status1 = (byte)(rig.In(IIR) >> 5);
        rig.Out(FCR, 0x01);
        rig.Out(LCR, 0x80);
        rig.Out(FCR, 0x01 | 0x20);
        status2 = (byte)(rig.In(IIR) >> 5);
        rig.Out(FCR, 0x01);
        rig.Out(LCR, 0);
        if (status1 == 6 && status2 == 7) return "16750";

        byte ierSave = rig.In(IER);
        rig.Out(IER, (byte)(ierSave & ~0x40));
        if ((rig.In(IER) & 0x40) == 0)
        {
            rig.Out(IER, (byte)(ierSave | 0x40));
            if ((rig.In(IER) & 0x40) != 0) return "XScale";
        }
        rig.Out(IER, ierSave);
        return SizeFifo(rig) == 64 ? "U6_16550A" : "16550A";
    }

    private static int SizeFifo(Rig rig)
    {
        byte oldLcr = rig.In(LCR);
        rig.Out(LCR, 0);
        byte oldFcr = rig.In(FCR);
        byte oldMcr = rig.In(MCR);
        rig.Out(FCR, 0x07);
        rig.Out(MCR, 0x10);
        rig.Out(LCR, 0x80);
        int oldDl = rig.In(DLL) | rig.In(DLM) << 8;
        rig.Out(DLL, 1);
        rig.Out(DLM, 0);
        rig.Out(LCR, 0x03);
        for (int count = 0; count < 256; count++) rig.Out(THR, (byte)count);
        int received = 0;
        while ((rig.In(LSR) & 0x01) != 0 && received < 256)
        {
            rig.In(RBR);
            received++;
        }
        rig.Out(FCR, oldFcr);
        rig.Out(MCR, oldMcr);
        rig.Out(LCR, 0x80);
        rig.Out(DLL, (byte)oldDl);
        rig.Out(DLM, (byte)(oldDl >> 8));
        rig.Out(LCR, oldLcr);
        Assert.Equal(16, received);
        return received;
    }
}
