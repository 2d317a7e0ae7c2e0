namespace Trapeze.Core.Isa;

/// <summary>
/// Decodes one instruction through <see cref="DecodeTable"/>. Entries are grouped by major opcode (32-bit)
/// or by quadrant and funct3 (compressed) so a decode scans only a handful of candidates.
/// </summary>
public static class Decoder
{
    private static readonly ushort[][] Groups32 = BuildGroups(compressed: false);
    private static readonly ushort[][] Groups16 = BuildGroups(compressed: true);

    private static int Group32(uint raw) => (int)(raw & 0x7f);
    private static int Group16(uint raw) => (int)(((raw >> 13) & 7) << 2 | (raw & 3));

    private static ushort[][] BuildGroups(bool compressed)
    {
        var lists = new List<ushort>[compressed ? 32 : 128];
        for (int i = 0; i < lists.Length; i++) lists[i] = [];
        var entries = DecodeTable.Entries;
        for (int i = 0; i < entries.Length; i++)
        {
            var e = entries[i];
            if (e.Compressed != compressed) continue;
            // Every entry fixes the bits its group is selected by, so it belongs to exactly one group.
            int g = compressed ? Group16(e.Match) : Group32(e.Match);
            lists[g].Add((ushort)i);
        }
        return lists.Select(l => l.ToArray()).ToArray();
    }

    /// <summary>Length in bytes of the instruction whose low halfword is <paramref name="low"/>:
    /// 2 for compressed, 4 for 32-bit, 0 for longer encodings (not supported: illegal).</summary>
    public static int LengthOf(ushort low)
    {
        if ((low & 3) != 3) return 2;
        if ((low & 0x1c) != 0x1c) return 4;
        return 0;
    }

    /// <summary>Decodes <paramref name="raw"/> (a 16-bit encoding in the low half when compressed).</summary>
    public static DecodedInsn Decode(uint raw)
    {
        int len = LengthOf((ushort)raw);
        if (len == 2) return Decode16(raw & 0xffff);
        if (len == 4) return Decode32(raw);
        return Illegal(raw & 0xffff, 2);
    }

    private static DecodedInsn Illegal(uint raw, int length) =>
        new() { Op = Op.Illegal, Raw = raw, Length = (byte)length, Entry = ushort.MaxValue };

    private static DecodedInsn Decode32(uint raw)
    {
        var entries = DecodeTable.Entries;
        foreach (ushort idx in Groups32[Group32(raw)])
        {
            var e = entries[idx];
            if ((raw & e.Mask) != e.Match) continue;
            // Unpriv. spec 11.2, Table 11.1: rm 101 and 110 are reserved, so such an
            // encoding is illegal whatever frm holds; only DYN (111) has to be checked at execution.
            if (e.HasRoundingMode && ((raw >> 12) & 7) is 5 or 6) return Illegal(raw, 4);
            var d = new DecodedInsn { Op = e.Op, Raw = raw, Length = 4, Entry = idx };
            uint rd = (raw >> 7) & 31, rs1 = (raw >> 15) & 31, rs2 = (raw >> 20) & 31;
            d.Rd = (byte)rd; d.Rs1 = (byte)rs1; d.Rs2 = (byte)rs2;
            d.Rm = (byte)((raw >> 12) & 7);
            switch (e.Format)
            {
                case InsnFormat.I or InsnFormat.Load or InsnFormat.FLoad:
                    d.Imm = (int)raw >> 20; break;
                case InsnFormat.Store or InsnFormat.FStore:
                    d.Imm = ((int)raw >> 25 << 5) | (int)((raw >> 7) & 31); break;
                case InsnFormat.Branch:
                    d.Imm = ((int)raw >> 31 << 12) | (int)((raw >> 7) & 1) << 11 | (int)((raw >> 25) & 0x3f) << 5
                            | (int)((raw >> 8) & 0xf) << 1;
                    break;
                case InsnFormat.U:
                    d.Imm = (int)(raw & 0xfffff000); break;
                case InsnFormat.J:
                    d.Imm = ((int)raw >> 31 << 20) | (int)((raw >> 12) & 0xff) << 12 | (int)((raw >> 20) & 1) << 11
                            | (int)((raw >> 21) & 0x3ff) << 1;
                    break;
                case InsnFormat.ShiftI:
                    d.Imm = (raw >> 20) & 0x3f; break;
                case InsnFormat.Csr or InsnFormat.CsrI or InsnFormat.Fence:
                    d.Imm = raw >> 20; break;
                case InsnFormat.Amo or InsnFormat.Lr:
                    d.Rm = (byte)((raw >> 25) & 3); break;
                case InsnFormat.FR4:
                    d.Rs3 = (byte)(raw >> 27); break;
            }
            if (e.Format.WritesX() && d.Rd == 0) d.Rd = DecodedInsn.SinkRegister;
            return d;
        }
        return Illegal(raw, 4);
    }

    private static DecodedInsn Decode16(uint raw)
    {
        var entries = DecodeTable.Entries;
        foreach (ushort idx in Groups16[Group16(raw)])
        {
            var e = entries[idx];
            if ((raw & e.Mask) != e.Match) continue;
            var d = new DecodedInsn { Op = e.Op, Raw = raw, Length = 2, Entry = idx };
            if (!Expand(e.CForm, raw, ref d)) return Illegal(raw, 2);
            if (e.Format.WritesX() && d.Rd == 0) d.Rd = DecodedInsn.SinkRegister;
            return d;
        }
        return Illegal(raw, 2);
    }

    private static uint Bit(uint raw, int from, int to) => ((raw >> from) & 1) << to;

    /// <summary>Fills the operands of a compressed encoding as its 32-bit equivalent. Returns false for the
    /// reserved encodings (Unpriv. spec Table 16.4-16.6 "RES").</summary>
    private static bool Expand(CForm form, uint raw, ref DecodedInsn d)
    {
        byte rdFull = (byte)((raw >> 7) & 31), rs2Full = (byte)((raw >> 2) & 31);
        byte rdP = (byte)(8 + ((raw >> 2) & 7)), rs1P = (byte)(8 + ((raw >> 7) & 7));
        // CI-format 6-bit signed immediate: imm[5] = bit 12, imm[4:0] = bits 6:2
        long ciImm = (long)((int)((Bit(raw, 12, 5) | ((raw >> 2) & 31)) << 26) >> 26);
        uint ciUimm = Bit(raw, 12, 5) | ((raw >> 2) & 31);
        switch (form)
        {
            case CForm.Addi4spn:
            {
                uint imm = ((raw >> 11) & 3) << 4 | ((raw >> 7) & 0xf) << 6 | Bit(raw, 6, 2) | Bit(raw, 5, 3);
                if (imm == 0) return false; // includes the all-zero illegal instruction
                d.Rd = rdP; d.Rs1 = 2; d.Imm = imm; return true;
            }
            case CForm.Ld4 or CForm.St4:
            {
                uint imm = ((raw >> 10) & 7) << 3 | Bit(raw, 6, 2) | Bit(raw, 5, 6);
                d.Rs1 = rs1P; d.Imm = imm;
                if (form == CForm.Ld4) d.Rd = rdP; else d.Rs2 = rdP;
                return true;
            }
            case CForm.Ld8 or CForm.St8:
            {
                uint imm = ((raw >> 10) & 7) << 3 | ((raw >> 5) & 3) << 6;
                d.Rs1 = rs1P; d.Imm = imm;
                if (form == CForm.Ld8) d.Rd = rdP; else d.Rs2 = rdP;
                return true;
            }
            case CForm.Addi:
                d.Rd = rdFull; d.Rs1 = rdFull; d.Imm = ciImm; return true;
            case CForm.Addiw:
                if (rdFull == 0) return false;
                d.Rd = rdFull; d.Rs1 = rdFull; d.Imm = ciImm; return true;
            case CForm.Li:
                d.Rd = rdFull; d.Rs1 = 0; d.Imm = ciImm; return true;
            case CForm.Addi16sp:
            {
                uint imm = Bit(raw, 12, 9) | Bit(raw, 6, 4) | Bit(raw, 5, 6) | ((raw >> 3) & 3) << 7 | Bit(raw, 2, 5);
                if (imm == 0) return false;
                d.Rd = 2; d.Rs1 = 2; d.Imm = (long)((int)(imm << 22) >> 22); return true;
            }
            case CForm.Lui:
                if (ciUimm == 0) return false;
                d.Rd = rdFull; d.Imm = ciImm << 12; return true;
            case CForm.ShiftRight:
                d.Rd = rs1P; d.Rs1 = rs1P; d.Imm = ciUimm; return true;
            case CForm.Andi:
                d.Rd = rs1P; d.Rs1 = rs1P; d.Imm = ciImm; return true;
            case CForm.Arith:
                d.Rd = rs1P; d.Rs1 = rs1P; d.Rs2 = rdP; return true;
            case CForm.J:
            {
                uint imm = Bit(raw, 12, 11) | Bit(raw, 11, 4) | ((raw >> 9) & 3) << 8 | Bit(raw, 8, 10) | Bit(raw, 7, 6)
                           | Bit(raw, 6, 7) | ((raw >> 3) & 7) << 1 | Bit(raw, 2, 5);
                d.Rd = 0; d.Imm = (long)((int)(imm << 20) >> 20); return true;
            }
            case CForm.Beqz:
            {
                uint imm = Bit(raw, 12, 8) | ((raw >> 10) & 3) << 3 | ((raw >> 5) & 3) << 6 | ((raw >> 3) & 3) << 1
                           | Bit(raw, 2, 5);
                d.Rs1 = rs1P; d.Rs2 = 0; d.Imm = (long)((int)(imm << 23) >> 23); return true;
            }
            case CForm.Slli:
                d.Rd = rdFull; d.Rs1 = rdFull; d.Imm = ciUimm; return true;
            case CForm.LwSp:
                if (rdFull == 0) return false;
                d.Rd = rdFull; d.Rs1 = 2; d.Imm = Bit(raw, 12, 5) | ((raw >> 4) & 7) << 2 | ((raw >> 2) & 3) << 6; return true;
            case CForm.LdSp:
                if (rdFull == 0 && d.Op == Op.Ld) return false;
                d.Rd = rdFull; d.Rs1 = 2; d.Imm = Bit(raw, 12, 5) | ((raw >> 5) & 3) << 3 | ((raw >> 2) & 7) << 6; return true;
            case CForm.Jr:
                if (rdFull == 0) return false;
                d.Rd = 0; d.Rs1 = rdFull; d.Imm = 0; return true;
            case CForm.Jalr:
                d.Rd = 1; d.Rs1 = rdFull; d.Imm = 0; return true;
            case CForm.Mv:
                d.Rd = rdFull; d.Rs1 = 0; d.Rs2 = rs2Full; return true;
            case CForm.AddRR:
                d.Rd = rdFull; d.Rs1 = rdFull; d.Rs2 = rs2Full; return true;
            case CForm.SwSp:
                d.Rs1 = 2; d.Rs2 = rs2Full; d.Imm = ((raw >> 9) & 0xf) << 2 | ((raw >> 7) & 3) << 6; return true;
            case CForm.SdSp:
                d.Rs1 = 2; d.Rs2 = rs2Full; d.Imm = ((raw >> 10) & 7) << 3 | ((raw >> 7) & 7) << 6; return true;
            case CForm.None:
                return true;
        }
        return false;
    }
}
