using Trapeze.Machine.Boot;

namespace Trapeze.Machine.Tests;

public sealed class LoadPlanTests
{
    [Fact]
    public void Writes_file_bytes_then_zero_fill_in_chunks()
    {
        var builder = new ElfFileBuilder();
        builder.AddSegment(0x8000_0000, [1, 2, 3, 4], 200 * 1024);
        var elf = ElfImage.Parse("x.elf", builder.Build().Bytes);
        var memory = new ArrayPhysicalMemory(0x8000_0000, 1 << 20, fill: 0xAA);

        elf.Plan.LoadInto(memory);

        Assert.Equal([1, 2, 3, 4], memory.At(0x8000_0000, 4).ToArray());
        Assert.DoesNotContain(memory.At(0x8000_0004, 200 * 1024 - 4).ToArray(), b => b != 0);
        Assert.Equal(0xAA, memory.At(0x8000_0000 + 200 * 1024, 1)[0]);
        Assert.True(memory.Writes >= 5);
    }

    [Fact]
    public void Image_past_the_end_of_ram_is_refused_with_the_exact_message_and_nothing_is_written()
    {
        var plan = RawImage.CreateLoadPlan("Image", new byte[0x10_0000], 0x8020_0000);
        var memory = new ArrayPhysicalMemory(0x8000_0000, 0x28_0000);
        var error = Assert.Throws<BootImageException>(() => plan.LoadInto(memory));
        Assert.Equal("Image: does not fit in RAM: needs 0x100000 bytes at 0x80200000, RAM ends at 0x80280000", error.Message);
        Assert.Equal(0, memory.Writes);
    }

    [Fact]
    public void Segment_below_ram_is_refused()
    {
        var plan = RawImage.CreateLoadPlan("low.bin", new byte[16], 0x1000);
        Assert.Equal("low.bin: does not fit in RAM: needs 0x10 bytes at 0x1000, RAM starts at 0x80000000",
            Assert.Throws<BootImageException>(() => plan.CheckFitsInRam(0x8000_0000, 1 << 20)).Message);
    }

    [Fact]
    public void Second_segment_not_fitting_prevents_writing_the_first()
    {
        var builder = new ElfFileBuilder();
        builder.AddSegment(0x8000_0000, new byte[16], 16);
        builder.AddSegment(0x9000_0000, new byte[16], 16);
        var memory = new ArrayPhysicalMemory(0x8000_0000, 1 << 20);
        var error = Assert.Throws<BootImageException>(() => ElfImage.Parse("two.elf", builder.Build().Bytes).Plan.LoadInto(memory));
        Assert.Equal("two.elf: does not fit in RAM: needs 0x10 bytes at 0x90000000, RAM ends at 0x80100000", error.Message);
        Assert.Equal(0, memory.Writes);
    }

    [Fact]
    public void Ram_at_the_top_of_the_address_space_does_not_overflow()
    {
        RawImage.CreateLoadPlan("top.bin", new byte[32], 0xffff_ffff_ffff_ff00).CheckFitsInRam(0xffff_ffff_ffff_f000, 0xfff);
        var plan = RawImage.CreateLoadPlan("t", new byte[32], 0xffff_ffff_ffff_ffd8);
        Assert.Equal("t: does not fit in RAM: needs 0x20 bytes at 0xffffffffffffffd8, RAM ends at 0xfffffffffffffff0",
            Assert.Throws<BootImageException>(() => plan.CheckFitsInRam(0xffff_ffff_ffff_f000, 0xff0)).Message);
    }

    [Fact]
    public void Refused_write_is_reported()
    {
        var plan = RawImage.CreateLoadPlan("fw.bin", new byte[16], 0x8000_0000);
        var memory = new ArrayPhysicalMemory(0x8000_0000, 1 << 20) { RefuseWrites = true };
        Assert.Equal("fw.bin: write of 0x10 bytes at 0x80000000 was refused by guest memory",
            Assert.Throws<BootImageException>(() => plan.LoadInto(memory)).Message);
    }

    [Fact]
    public void Raw_image_edge_cases()
    {
        Assert.Equal("initrd: empty file",
            Assert.Throws<BootImageException>(() => RawImage.CreateLoadPlan("initrd", ReadOnlyMemory<byte>.Empty, 0x8000_0000)).Message);
        Assert.Equal("r.bin: 0x20 bytes at 0xfffffffffffffff0 wrap around the end of the address space",
            Assert.Throws<BootImageException>(() => RawImage.CreateLoadPlan("r.bin", new byte[32], 0xffff_ffff_ffff_fff0)).Message);
        var plan = RawImage.CreateLoadPlan("r.bin", new byte[32], 0x8000_0000);
        Assert.Equal(0x8000_0000UL, plan.EntryPoint);
        Assert.Equal(0x8000_0000UL, plan.LowAddress);
        Assert.Equal(0x8000_0020UL, plan.HighAddress);
    }

    [Fact]
    public void Segment_and_plan_constructors_check_their_arguments()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new LoadSegment(0, new byte[4], 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LoadSegment(ulong.MaxValue, ReadOnlyMemory<byte>.Empty, 2));
        Assert.Throws<ArgumentException>(() => new LoadPlan("x", [new LoadSegment(0x1000, ReadOnlyMemory<byte>.Empty, 0)], 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => RawImage.CreateLoadPlan("x", new byte[1], 0).CheckFitsInRam(1, ulong.MaxValue));
        Assert.Throws<ArgumentOutOfRangeException>(() => RawImage.CreateLoadPlan("x", new byte[1], 0).CheckFitsInRam(0, 0));
    }
}
