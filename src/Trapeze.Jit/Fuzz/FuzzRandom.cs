namespace Trapeze.Jit.Fuzz;

/// <summary>SplitMix64: a small, fast generator whose stream depends only on the seed (reproducible
/// across runtimes, unlike System.Random's unspecified algorithms).</summary>
public sealed class FuzzRandom(ulong seed)
{
    private ulong _state = seed;

    public ulong NextU64()
    {
        ulong z = _state += 0x9e3779b97f4a7c15;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
        z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
        return z ^ (z >> 31);
    }

    public uint NextU32() => (uint)(NextU64() >> 32);

    /// <summary>0 &lt;= result &lt; n.</summary>
    public int Next(int n) => (int)((NextU64() >> 33) % (ulong)n);

    public int Next(int lo, int hi) => hi <= lo ? lo : lo + Next(hi - lo);

    /// <summary>True with probability <paramref name="percent"/>/100.</summary>
    public bool Chance(int percent) => Next(100) < percent;

    public T Pick<T>(IReadOnlyList<T> items) => items[Next(items.Count)];
}

/// <summary>Operand values that find bugs: integer and floating-point edge cases.</summary>
public static class EdgeValues
{
    public static readonly ulong[] Integers =
    [
        0, 1, ulong.MaxValue, 2, 0x8000_0000_0000_0000, 0x7fff_ffff_ffff_ffff, 0xffff_ffff_8000_0000, 0x7fff_ffff,
        0x8000_0000, 0xffff_ffff, 0x1_0000_0000, 0x8000_0000_0000_0001, 0xffff_ffff_ffff_fffe, 31, 32, 63, 64,
        0xffff_ffff_ffff_f800, 0x7ff, 0x8000, 0xffff, 0xffff_ffff_ffff_8000, 0x0000_0000_8000_0001, 0xffff_ffff_7fff_ffff,
        0x5555_5555_5555_5555, 0xaaaa_aaaa_aaaa_aaaa, 0x1_7fff_ffff,
    ];

    /// <summary>Doubles: ±0, ±inf, quiet and signalling NaNs of both signs, subnormals, normal extremes, values at
    /// the integer-conversion limits and halfway cases.</summary>
    public static readonly ulong[] Doubles =
    [
        0, 0x8000_0000_0000_0000, 0x7ff0_0000_0000_0000, 0xfff0_0000_0000_0000, 0x7ff8_0000_0000_0000, 0xfff8_0000_0000_0000,
        0x7ff0_0000_0000_0001, 0xfff4_0000_0000_0000, 0x7ff8_0000_0000_0001, 1, 0x000f_ffff_ffff_ffff, 0x8000_0000_0000_0001,
        0x0010_0000_0000_0000, 0x7fef_ffff_ffff_ffff, 0xffef_ffff_ffff_ffff, 0x3ff0_0000_0000_0000, 0xbff0_0000_0000_0000,
        0x43e0_0000_0000_0000, 0xc3e0_0000_0000_0000, 0x43f0_0000_0000_0000, 0x41e0_0000_0000_0000, 0xc1e0_0000_0000_0000,
        0x41df_ffff_ffc0_0000, 0x41f0_0000_0000_0000, 0x3fe0_0000_0000_0000, 0x3ff8_0000_0000_0000, 0x4004_0000_0000_0000,
        0xbfe0_0000_0000_0000, 0x3810_0000_0000_0000, 0x47ef_ffff_e000_0000, 0x36a0_0000_0000_0000, 0x3ff0_0000_0000_0001,
    ];

    /// <summary>Singles (the low 32 bits; boxed or not is chosen by the caller).</summary>
    public static readonly uint[] Singles =
    [
        0, 0x8000_0000, 0x7f80_0000, 0xff80_0000, 0x7fc0_0000, 0xffc0_0000, 0x7f80_0001, 0xffa0_0000, 0x7fc0_0001,
        1, 0x007f_ffff, 0x8000_0001, 0x0080_0000, 0x7f7f_ffff, 0xff7f_ffff, 0x3f80_0000, 0xbf80_0000, 0x4f00_0000,
        0xcf00_0000, 0x5f00_0000, 0xdf00_0000, 0x4f80_0000, 0x5f80_0000, 0x3f00_0000, 0x3fc0_0000, 0x4020_0000,
        0xbf00_0000, 0x3f80_0001, 0x4eff_ffff,
    ];

    public static ulong Integer(FuzzRandom r) => r.Next(10) switch
    {
        < 6 => r.Pick(Integers),
        6 => (ulong)(long)(int)r.NextU32(),
        7 => r.NextU64() >> r.Next(64),
        _ => r.NextU64(),
    };

    /// <summary>A value for an FP register: a double, a NaN-boxed single, or (sometimes) an unboxed single.</summary>
    public static ulong Float(FuzzRandom r) => r.Next(12) switch
    {
        < 4 => r.Pick(Doubles),
        < 8 => 0xffff_ffff_0000_0000 | r.Pick(Singles),
        8 => 0xffff_ffff_0000_0000 | r.NextU32(),
        9 => r.NextU64(),
        10 => r.Pick(Singles),
        _ => r.Pick(Doubles) ^ (r.NextU64() & 0xf),
    };
}
