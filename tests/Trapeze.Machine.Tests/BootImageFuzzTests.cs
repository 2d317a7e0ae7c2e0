using Trapeze.Machine.Boot;

namespace Trapeze.Machine.Tests;

/// <summary>
/// Random mutations of valid files: every one must either parse (and then load or be refused cleanly) or be
/// refused with <see cref="BootImageException"/> — never another exception, never a huge allocation.
/// Seeds are fixed so a failure reproduces.
/// </summary>
public sealed class BootImageFuzzTests
{
    private const string OpenSbiElf = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.elf";

    private static readonly ulong[] Interesting =
    [
        0, 1, 2, 7, 8, 24, 56, 64, 0x7f, 0x80, 0xff, 0x100, 0xfff, 0x1000, 0xffff, 0x1_0000, 0x7fff_ffff,
        0x8000_0000, 0xffff_ffff, 0x1_0000_0000, 0x8000_0000_0000_0000, 0xffff_ffff_ffff_fff0, ulong.MaxValue,
    ];

    [Fact]
    public void Mutated_synthetic_elf_parses_or_fails_cleanly()
    {
        var built = ElfFileBuilder.Sample().AddSegment(0x8000_2000, new byte[16], 0x40, virtualAddress: 0x1000).Build();
        // Bias mutations towards the tables the parser reads.
        int[] hotSpots = [0, built.ProgramHeaderOffset, built.SectionHeaderOffset, built.SymbolTableOffset, built.StringTableOffset];
        Run(built.Bytes, hotSpots, iterations: 30_000, seed: 1234);
    }

    [FileFact(OpenSbiElf)]
    public void Mutated_opensbi_elf_parses_or_fails_cleanly()
    {
        var bytes = File.ReadAllBytes(OpenSbiElf);
        var elf = ElfImage.Parse("fw_dynamic.elf", bytes);
        // Hot spots: the headers, every section header, and the start of every section (symbols, strings).
        int shoff = (int)BitConverter.ToUInt64(bytes, 40);
        int shnum = BitConverter.ToUInt16(bytes, 60);
        var hotSpots = new List<int> { 0, 64 };
        for (int i = 0; i < shnum; i++)
        {
            hotSpots.Add(shoff + i * 64);
            hotSpots.Add((int)BitConverter.ToUInt64(bytes, shoff + i * 64 + 24));
        }

        Run(bytes, [.. hotSpots], iterations: 3_000, seed: 99);
        Assert.NotNull(elf);
    }

    [Fact]
    public void Random_linux_image_headers_place_or_fail_cleanly()
    {
        var random = new Random(42);
        for (int i = 0; i < 20_000; i++)
        {
            var bytes = new byte[random.Next(0, 160)];
            random.NextBytes(bytes);
            if (bytes.Length >= 64 && random.Next(2) == 0)
            {
                "RSC\u0005"u8.CopyTo(bytes.AsSpan(56));
                Poke.U64(bytes, 16, Interesting[random.Next(Interesting.Length)]);
            }

            try
            {
                var kernel = KernelImage.Identify("Image", bytes);
                var layout = BootLayout.Compute(new BootLayoutRequest
                {
                    RamBase = 0x8000_0000,
                    RamSize = 128UL << 20,
                    FirmwareStart = 0x8000_0000,
                    FirmwareEnd = 0x8000_0000 + Interesting[random.Next(Interesting.Length)] % (4UL << 20),
                    Kernel = kernel,
                    InitrdSize = Interesting[random.Next(Interesting.Length)],
                    FdtSize = 1 + Interesting[random.Next(Interesting.Length)] % (1UL << 21),
                });
                Assert.True(layout.KernelEnd > layout.KernelStart);
            }
            catch (BootImageException)
            {
            }
        }
    }

    private static void Run(byte[] original, int[] hotSpots, int iterations, int seed)
    {
        var random = new Random(seed);
        var memory = new ArrayPhysicalMemory(0x8000_0000, 1 << 20);
        int parsed = 0;
        for (int i = 0; i < iterations; i++)
        {
            byte[] bytes = Mutate(original, hotSpots, random);
            try
            {
                var elf = ElfImage.Parse("fuzz.elf", bytes);
                parsed++;
                elf.TryGetSymbol("tohost", out _);
                elf.TryGetSymbol("_start", out _);
                elf.GetSymbols();
                Assert.True(elf.HighAddress > elf.LowAddress);
                elf.Plan.LoadInto(memory);
            }
            catch (BootImageException)
            {
            }
            catch (Exception e)
            {
                Assert.Fail($"iteration {i} (seed {seed}): {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
            }
        }

        // The mutations must leave some files intact enough to exercise the paths after parsing.
        Assert.True(parsed > iterations / 50, $"only {parsed} of {iterations} mutated files parsed");
    }

    private static byte[] Mutate(byte[] original, int[] hotSpots, Random random)
    {
        var bytes = (byte[])original.Clone();
        int mutations = random.Next(1, 4);
        for (int m = 0; m < mutations; m++)
        {
            int near = hotSpots[random.Next(hotSpots.Length)];
            int at = Math.Clamp(near + random.Next(-8, 200), 0, bytes.Length - 1);
            switch (random.Next(5))
            {
                case 0:
                    bytes[at] = (byte)random.Next(256);
                    break;
                case 1:
                    bytes[at] ^= (byte)(1 << random.Next(8));
                    break;
                case 2:
                    at &= ~7;
                    if (at + 8 <= bytes.Length)
                    {
                        Poke.U64(bytes, at, Interesting[random.Next(Interesting.Length)]);
                    }

                    break;
                case 3:
                    at &= ~3;
                    if (at + 4 <= bytes.Length)
                    {
                        Poke.U32(bytes, at, (uint)Interesting[random.Next(Interesting.Length)]);
                    }

                    break;
                default:
                    if (random.Next(4) == 0)
                    {
                        Array.Resize(ref bytes, random.Next(bytes.Length));
                        return bytes;
                    }

                    break;
            }
        }

        return bytes;
    }
}
