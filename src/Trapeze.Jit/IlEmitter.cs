using System.Reflection;
using System.Reflection.Emit;
using Trapeze.Core.Cpu;
using Trapeze.Core.Isa;

namespace Trapeze.Jit;

/// <summary>
/// Translates a <see cref="Region"/> into one IL method (a DynamicMethod that RyuJIT compiles to host
/// code). Guest integer registers live in IL locals for the whole region; loads and stores inline the TLB
/// hit path; branches inside the region are host branches, with an interrupt and budget check on every
/// back-edge. Every exit stores the registers back and leaves pc and the retired count exact, so a trap
/// in the middle leaves the state the interpreter would.
/// </summary>
public sealed unsafe class IlEmitter
{
    /// <summary>Back-edges taken before a region returns to the dispatcher (which polls timers and stop
    /// requests).</summary>
    public const int BackEdgeBudget = 1024;

    private static readonly Type Ulong = typeof(ulong);
    private static readonly MethodInfo LrW = Method(typeof(JitHelpers), nameof(JitHelpers.LrW));
    private static readonly MethodInfo LrD = Method(typeof(JitHelpers), nameof(JitHelpers.LrD));
    private static readonly MethodInfo ScW = Method(typeof(JitHelpers), nameof(JitHelpers.ScW));
    private static readonly MethodInfo ScD = Method(typeof(JitHelpers), nameof(JitHelpers.ScD));
    private static readonly MethodInfo Amo = Method(typeof(JitHelpers), nameof(JitHelpers.Amo));
    private static readonly MethodInfo FExecute = Method(typeof(JitHelpers), nameof(JitHelpers.ExecuteF));
    private static readonly MethodInfo DExecute = Method(typeof(JitHelpers), nameof(JitHelpers.ExecuteD));
    private static readonly MethodInfo CsrExecute = Method(typeof(JitHelpers), nameof(JitHelpers.ExecuteCsr));

    private readonly Region _region;
    private readonly ILGenerator _il;
    private readonly DynamicMethod _method;
    private readonly LocalBuilder?[] _x = new LocalBuilder?[32];
    private readonly bool[] _written = new bool[32];
    private readonly LocalBuilder _pcBase, _retired, _budget, _fault, _exitPc, _va, _entry, _fsOn, _rm, _fpValue;
    private readonly LocalBuilder _readTlb, _writeTlb, _dataCtx, _exitKind;
    private bool _hasFloat, _hasLoad, _hasStore;
    /// <summary>What earlier instructions of the block being emitted have established, so that later ones
    /// need not do it again (a block is straight-line code entered only at its start): FS is on, frm holds
    /// a valid rounding mode (in <see cref="_rm"/>), mstatus.FS is Dirty.</summary>
    private bool _fsKnownOn, _rmKnown, _fsDirtied;
    /// <summary>Rarely taken paths (TLB misses), emitted after the hot code so that it runs straight through.</summary>
    private readonly List<Action> _cold = [];
    private readonly Label _exitContinue, _faultTail, _memoryFaultTail, _leaveTail, _positionTail, _tail;
    private bool _leaves;
    private readonly Dictionary<int, Label> _labels = [];
    private readonly List<DecodedInsn> _helperInsns = [];

    private IlEmitter(Region region)
    {
        _region = region;
        // The method's first parameter is the delegate's target (see Compile): a delegate closed over its
        // first argument is called directly, a static one through a thunk that shuffles the arguments.
        _method = new DynamicMethod($"rv64_{region.EntryPhys:x}", typeof(RegionExit),
            [typeof(DecodedInsn[]), typeof(HartState*), typeof(Hart), typeof(DecodedInsn[])], typeof(IlEmitter).Module,
            skipVisibility: true);
        _il = _method.GetILGenerator(256 + region.InstructionCount * 48);
        _pcBase = _il.DeclareLocal(Ulong);
        _retired = _il.DeclareLocal(Ulong);
        _budget = _il.DeclareLocal(typeof(int));
        _fault = _il.DeclareLocal(typeof(long));
        _exitPc = _il.DeclareLocal(Ulong);
        _va = _il.DeclareLocal(Ulong);
        _entry = _il.DeclareLocal(typeof(nint));
        _fsOn = _il.DeclareLocal(typeof(int));
        _rm = _il.DeclareLocal(typeof(int));
        _fpValue = _il.DeclareLocal(Ulong);
        _readTlb = _il.DeclareLocal(typeof(nint));
        _writeTlb = _il.DeclareLocal(typeof(nint));
        _dataCtx = _il.DeclareLocal(Ulong);
        _exitKind = _il.DeclareLocal(Ulong);
        _exitContinue = _il.DefineLabel();
        _faultTail = _il.DefineLabel();
        _memoryFaultTail = _il.DefineLabel();
        _leaveTail = _il.DefineLabel();
        _positionTail = _il.DefineLabel();
        _tail = _il.DefineLabel();
    }

    /// <summary>Time RyuJIT took for the last region compiled on this thread.</summary>
    [ThreadStatic] public static long LastHostCompileTicks;

    /// <summary>Compiles a region. Throws only on an internal error (a bug), never for guest input.</summary>
    public static CompiledRegion Compile(Region region)
    {
        var e = new IlEmitter(region);
        e.Emit();
        DecodedInsn[] insns = [.. e._helperInsns];
        // Closed over the instructions the helper calls refer to (argument 0 in the IL; the delegate's own
        // third argument is the same array and unused).
        var fn = (RegionFunction)e._method.CreateDelegate(typeof(RegionFunction), insns);
        long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
        // Have RyuJIT compile it now, on the translator's thread, not at the first call on the hart's.
        System.Runtime.CompilerServices.RuntimeHelpers.PrepareDelegate(fn);
        LastHostCompileTicks = System.Diagnostics.Stopwatch.GetTimestamp() - t0;
        return new CompiledRegion(fn, insns, region.InstructionCount, [.. region.Blocks.Keys], e._leaves, region.Remade);
    }

    private static MethodInfo Method(Type t, string name) =>
        t.GetMethod(name, BindingFlags.Public | BindingFlags.Static) ?? throw new MissingMethodException(t.Name, name);

    // ------------------------------------------------------------------ register roles per format

    private static void XRoles(in DecodedInsn d, out int r1, out int r2, out int wd)
    {
        r1 = r2 = wd = -1;
        var f = d.Entry < DecodeTable.Entries.Length ? DecodeTable.Entries[d.Entry].Format : InsnFormat.None;
        switch (f)
        {
            case InsnFormat.R or InsnFormat.Amo: r1 = d.Rs1; r2 = d.Rs2; wd = d.Rd; break;
            case InsnFormat.I or InsnFormat.ShiftI or InsnFormat.Load or InsnFormat.Lr: r1 = d.Rs1; wd = d.Rd; break;
            case InsnFormat.Store or InsnFormat.Branch: r1 = d.Rs1; r2 = d.Rs2; break;
            case InsnFormat.U or InsnFormat.J or InsnFormat.FCmp or InsnFormat.FToX or InsnFormat.CsrI: wd = d.Rd; break;
            case InsnFormat.Csr: r1 = d.Rs1; wd = d.Rd; break;
            case InsnFormat.FLoad or InsnFormat.FStore or InsnFormat.XToF: r1 = d.Rs1; break;
        }
        if (wd == DecodedInsn.SinkRegister) wd = -1;
    }

    // ------------------------------------------------------------------ structure

    private void Emit()
    {
        var order = _region.Blocks.Values.OrderBy(b => b.Offset == _region.EntryOffset ? -1 : b.Offset).ToList();
        foreach (var b in order)
        {
            _labels[b.Offset] = _il.DefineLabel();
            foreach (var (d, _) in b.Insns)
            {
                XRoles(d, out int r1, out int r2, out int wd);
                if (d.Op is >= Op.Flw and <= Op.FmvDX) _hasFloat = true;
                if (d.Op is Op.Lb or Op.Lh or Op.Lw or Op.Ld or Op.Lbu or Op.Lhu or Op.Lwu or Op.Flw or Op.Fld) _hasLoad = true;
                if (d.Op is Op.Sb or Op.Sh or Op.Sw or Op.Sd or Op.Fsw or Op.Fsd) _hasStore = true;
                Use(r1); Use(r2);
                if (wd > 0) { Use(wd); _written[wd] = true; }
            }
        }

        // Prologue: registers into locals, pc base, TLB pointers.
        for (int r = 1; r < 32; r++)
        {
            if (_x[r] == null) continue;
            LoadStateField(HartStateLayout.XReg(r));
            _il.Emit(OpCodes.Stloc, _x[r]!);
        }
        LoadStateField(HartStateLayout.Pc);
        _il.Emit(OpCodes.Ldc_I8, (long)_region.EntryOffset);
        _il.Emit(OpCodes.Sub);
        _il.Emit(OpCodes.Stloc, _pcBase);
        _il.Emit(OpCodes.Ldc_I8, 0L);
        _il.Emit(OpCodes.Stloc, _retired);
        _il.Emit(OpCodes.Ldc_I4, BackEdgeBudget);
        _il.Emit(OpCodes.Stloc, _budget);
        // The TLB arrays never move and the data context changes only with privilege, satp or mstatus, whose
        // changes end a region (a trap leaves it, a CSR write other than frm/fflags/fcsr is not translated):
        // read once here instead of at every access, which keeps each probe shorter for RyuJIT.
        if (_hasLoad)
        {
            LoadStateField(HartStateLayout.ReadTlb);
            _il.Emit(OpCodes.Stloc, _readTlb);
        }
        if (_hasStore)
        {
            LoadStateField(HartStateLayout.WriteTlb);
            _il.Emit(OpCodes.Stloc, _writeTlb);
        }
        if (_hasLoad || _hasStore)
        {
            LoadStateField(HartStateLayout.DataCtx);
            _il.Emit(OpCodes.Stloc, _dataCtx);
        }
        if (_hasFloat)
        {
            // mstatus.FS cannot become Off inside a region (only a write of mstatus or sstatus, which ends
            // one, or a trap, which leaves it, can do that), so it is read once here.
            LoadStateField(HartStateLayout.Mstatus);
            _il.Emit(OpCodes.Ldc_I8, (long)Mstatus.FsMask);
            _il.Emit(OpCodes.And);
            _il.Emit(OpCodes.Ldc_I8, 0L);
            _il.Emit(OpCodes.Cgt_Un);
            _il.Emit(OpCodes.Stloc, _fsOn);
        }

        foreach (var b in order) EmitBlock(b);
        foreach (var stub in _cold) stub();

        // Out-of-line loads and stores leave the packed fault in JitValue themselves (one constant argument
        // instead of a branch and a store at every access).
        _il.MarkLabel(_memoryFaultTail);
        LoadStateField(HartStateLayout.JitValue);
        _il.Emit(OpCodes.Stloc, _fault);

        // Fault tail: _fault = (page offset << 32) | instructions of the block retired before it.
        _il.MarkLabel(_faultTail);
        _il.Emit(OpCodes.Ldc_I8, (long)RegionExit.Exception);
        _il.Emit(OpCodes.Stloc, _exitKind);
        _il.Emit(OpCodes.Br, _positionTail);
        if (_leaves)
        {
            // The same position, for an access that left at a TLB miss without executing.
            _il.MarkLabel(_leaveTail);
            _il.Emit(OpCodes.Ldc_I8, (long)RegionExit.LeftAtMiss);
            _il.Emit(OpCodes.Stloc, _exitKind);
        }
        _il.MarkLabel(_positionTail);
        _il.Emit(OpCodes.Ldloc, _pcBase);
        _il.Emit(OpCodes.Ldloc, _fault);
        _il.Emit(OpCodes.Ldc_I4, 32);
        _il.Emit(OpCodes.Shr);
        _il.Emit(OpCodes.Add);
        _il.Emit(OpCodes.Stloc, _exitPc);
        _il.Emit(OpCodes.Ldloc, _retired);
        _il.Emit(OpCodes.Ldloc, _fault);
        _il.Emit(OpCodes.Ldc_I8, 0xffffffffL);
        _il.Emit(OpCodes.And);
        _il.Emit(OpCodes.Add);
        _il.Emit(OpCodes.Stloc, _retired);
        _il.Emit(OpCodes.Br, _tail);

        EmitTail();
    }

    private void Use(int r)
    {
        if (r > 0 && r < 32 && _x[r] == null) _x[r] = _il.DeclareLocal(Ulong);
    }

    /// <summary>The one exit: every kind shares the register write-back (emitting it once per kind doubled
    /// the IL a region spends on it); the kind travels in a local.</summary>
    private void EmitTail()
    {
        _il.MarkLabel(_exitContinue);
        _il.Emit(OpCodes.Ldc_I8, (long)RegionExit.Continue);
        _il.Emit(OpCodes.Stloc, _exitKind);
        _il.MarkLabel(_tail);
        for (int r = 1; r < 32; r++)
        {
            if (!_written[r]) continue;
            StateAddress(HartStateLayout.XReg(r));
            _il.Emit(OpCodes.Ldloc, _x[r]!);
            _il.Emit(OpCodes.Stind_I8);
        }
        StateAddress(HartStateLayout.Pc);
        _il.Emit(OpCodes.Ldloc, _exitPc);
        _il.Emit(OpCodes.Stind_I8);
        StateAddress(HartStateLayout.Retired);
        LoadStateField(HartStateLayout.Retired);
        _il.Emit(OpCodes.Ldloc, _retired);
        _il.Emit(OpCodes.Add);
        _il.Emit(OpCodes.Stind_I8);
        _il.Emit(OpCodes.Ldloc, _exitKind);
        _il.Emit(OpCodes.Ret);
    }

    private void EmitBlock(RegionBlock b)
    {
        _il.MarkLabel(_labels[b.Offset]);
        _fsKnownOn = _rmKnown = _fsDirtied = false;
        int n = b.Insns.Count;
        bool controlLast = b.End is BlockEnd.Branch or BlockEnd.Jump or BlockEnd.IndirectJump;
        int straight = controlLast ? n - 1 : n;
        for (int k = 0; k < straight; k++) EmitInsn(b.Insns[k].Insn, b.Insns[k].Offset, k);

        switch (b.End)
        {
            case BlockEnd.Branch:
            {
                var (d, _) = b.Insns[n - 1];
                var taken = _il.DefineLabel();
                EmitBranchCondition(d, taken);
                AddRetired(n);
                Goto(b.Next, b.Offset);
                _il.MarkLabel(taken);
                AddRetired(n);
                Goto(b.Target, b.Offset);
                break;
            }
            case BlockEnd.Jump:
            {
                var (d, off) = b.Insns[n - 1];
                EmitLink(d, off);
                AddRetired(n);
                Goto(b.Target, b.Offset);
                break;
            }
            case BlockEnd.IndirectJump:
            {
                var (d, off) = b.Insns[n - 1];
                // target = (rs1 + imm) & ~1, computed before the link register is written (rd may be rs1)
                LoadX(d.Rs1);
                _il.Emit(OpCodes.Ldc_I8, d.Imm);
                _il.Emit(OpCodes.Add);
                _il.Emit(OpCodes.Ldc_I8, ~1L);
                _il.Emit(OpCodes.And);
                _il.Emit(OpCodes.Stloc, _exitPc);
                EmitLink(d, off);
                AddRetired(n);
                // A return to one of the region's call sites stays inside (checked on the address the
                // hart computed, so any other target, or a return address the callee changed, leaves).
                foreach (int site in _region.ReturnSites)
                {
                    var other = _il.DefineLabel();
                    _il.Emit(OpCodes.Ldloc, _exitPc);
                    _il.Emit(OpCodes.Ldloc, _pcBase);
                    _il.Emit(OpCodes.Ldc_I8, (long)site);
                    _il.Emit(OpCodes.Add);
                    _il.Emit(OpCodes.Bne_Un, other);
                    Goto(site, b.Offset);
                    _il.MarkLabel(other);
                }
                _il.Emit(OpCodes.Br, _exitContinue);
                break;
            }
            case BlockEnd.FallThrough:
                AddRetired(n);
                Goto(b.Next, b.Offset);
                break;
            default:
                AddRetired(n);
                ExitTo(b.Next);
                break;
        }
    }

    /// <summary>Continues at a page offset: inside the region a host branch (with the interrupt and
    /// budget check on back-edges), outside an exit to the dispatcher.</summary>
    private void Goto(long target, int from)
    {
        if (!Region.InPage(target) || !_labels.TryGetValue((int)target, out var label))
        {
            ExitTo(target);
            return;
        }
        if (target <= from)
        {
            var leave = _il.DefineLabel();
            var stay = _il.DefineLabel();
            _il.Emit(OpCodes.Ldloc, _budget);
            _il.Emit(OpCodes.Ldc_I4_1);
            _il.Emit(OpCodes.Sub);
            _il.Emit(OpCodes.Dup);
            _il.Emit(OpCodes.Stloc, _budget);
            _il.Emit(OpCodes.Ldc_I4_0);
            _il.Emit(OpCodes.Ble, leave);
            StateAddress(HartStateLayout.Mip);
            _il.Emit(OpCodes.Volatile);
            _il.Emit(OpCodes.Ldind_I8);
            LoadStateField(HartStateLayout.Mie);
            _il.Emit(OpCodes.And);
            _il.Emit(OpCodes.Brfalse, stay);
            _il.MarkLabel(leave);
            ExitTo(target);
            _il.MarkLabel(stay);
        }
        _il.Emit(OpCodes.Br, label);
    }

    private void ExitTo(long pageOffset)
    {
        _il.Emit(OpCodes.Ldloc, _pcBase);
        _il.Emit(OpCodes.Ldc_I8, pageOffset);
        _il.Emit(OpCodes.Add);
        _il.Emit(OpCodes.Stloc, _exitPc);
        _il.Emit(OpCodes.Br, _exitContinue);
    }

    private void AddRetired(int n)
    {
        if (n == 0) return;
        _il.Emit(OpCodes.Ldloc, _retired);
        _il.Emit(OpCodes.Ldc_I8, (long)n);
        _il.Emit(OpCodes.Add);
        _il.Emit(OpCodes.Stloc, _retired);
    }

    // ------------------------------------------------------------------ state and registers

    private void StateAddress(int offset)
    {
        _il.Emit(OpCodes.Ldarg_1);
        if (offset != 0)
        {
            _il.Emit(OpCodes.Ldc_I4, offset);
            _il.Emit(OpCodes.Add);
        }
    }

    private void LoadStateField(int offset)
    {
        StateAddress(offset);
        _il.Emit(OpCodes.Ldind_I8);
    }

    private void LoadX(int r)
    {
        if (r == 0) _il.Emit(OpCodes.Ldc_I8, 0L);
        else _il.Emit(OpCodes.Ldloc, _x[r]!);
    }

    /// <summary>Stores the 64-bit value on the stack into rd (dropping it for x0).</summary>
    private void StoreX(int rd)
    {
        if (rd == DecodedInsn.SinkRegister || rd == 0) _il.Emit(OpCodes.Pop);
        else _il.Emit(OpCodes.Stloc, _x[rd]!);
    }

    private void EmitLink(in DecodedInsn d, int off)
    {
        if (d.Rd == DecodedInsn.SinkRegister) return;
        _il.Emit(OpCodes.Ldloc, _pcBase);
        _il.Emit(OpCodes.Ldc_I8, (long)(off + d.Length));
        _il.Emit(OpCodes.Add);
        StoreX(d.Rd);
    }

    // ------------------------------------------------------------------ instructions

    private void EmitBranchCondition(in DecodedInsn d, Label taken)
    {
        LoadX(d.Rs1);
        LoadX(d.Rs2);
        _il.Emit(d.Op switch
        {
            Op.Beq => OpCodes.Beq,
            Op.Bne => OpCodes.Bne_Un,
            Op.Blt => OpCodes.Blt,
            Op.Bge => OpCodes.Bge,
            Op.Bltu => OpCodes.Blt_Un,
            _ => OpCodes.Bge_Un,
        }, taken);
    }

    private void Binary(in DecodedInsn d, OpCode op)
    {
        LoadX(d.Rs1);
        LoadX(d.Rs2);
        _il.Emit(op);
        StoreX(d.Rd);
    }

    private void Immediate(in DecodedInsn d, OpCode op)
    {
        LoadX(d.Rs1);
        _il.Emit(OpCodes.Ldc_I8, d.Imm);
        _il.Emit(op);
        StoreX(d.Rd);
    }

    private void SignExtendWord()
    {
        _il.Emit(OpCodes.Conv_I4);
        _il.Emit(OpCodes.Conv_I8);
    }

    private void Call(MethodInfo m) => _il.Emit(OpCodes.Call, m);

    private void CallValue(in DecodedInsn d, string name)
    {
        LoadX(d.Rs1);
        LoadX(d.Rs2);
        Call(Method(typeof(Rv64M), name));
        StoreX(d.Rd);
    }

    private void EmitInsn(in DecodedInsn d, int off, int k)
    {
        if (d.Rd == DecodedInsn.SinkRegister && IsPureAlu(d.Op)) return; // a HINT or NOP: no effect
        switch (d.Op)
        {
            case Op.Lui: _il.Emit(OpCodes.Ldc_I8, d.Imm); StoreX(d.Rd); break;
            case Op.Auipc:
                _il.Emit(OpCodes.Ldloc, _pcBase);
                _il.Emit(OpCodes.Ldc_I8, off + d.Imm);
                _il.Emit(OpCodes.Add);
                StoreX(d.Rd);
                break;
            case Op.Addi: Immediate(d, OpCodes.Add); break;
            case Op.Xori: Immediate(d, OpCodes.Xor); break;
            case Op.Ori: Immediate(d, OpCodes.Or); break;
            case Op.Andi: Immediate(d, OpCodes.And); break;
            case Op.Slti:
                LoadX(d.Rs1); _il.Emit(OpCodes.Ldc_I8, d.Imm); _il.Emit(OpCodes.Clt); _il.Emit(OpCodes.Conv_U8); StoreX(d.Rd);
                break;
            case Op.Sltiu:
                LoadX(d.Rs1); _il.Emit(OpCodes.Ldc_I8, d.Imm); _il.Emit(OpCodes.Clt_Un); _il.Emit(OpCodes.Conv_U8); StoreX(d.Rd);
                break;
            case Op.Slli: ShiftImm(d, OpCodes.Shl); break;
            case Op.Srli: ShiftImm(d, OpCodes.Shr_Un); break;
            case Op.Srai: ShiftImm(d, OpCodes.Shr); break;
            case Op.Add: Binary(d, OpCodes.Add); break;
            case Op.Sub: Binary(d, OpCodes.Sub); break;
            case Op.Xor: Binary(d, OpCodes.Xor); break;
            case Op.Or: Binary(d, OpCodes.Or); break;
            case Op.And: Binary(d, OpCodes.And); break;
            case Op.Mul: Binary(d, OpCodes.Mul); break;
            case Op.Slt: LoadX(d.Rs1); LoadX(d.Rs2); _il.Emit(OpCodes.Clt); _il.Emit(OpCodes.Conv_U8); StoreX(d.Rd); break;
            case Op.Sltu: LoadX(d.Rs1); LoadX(d.Rs2); _il.Emit(OpCodes.Clt_Un); _il.Emit(OpCodes.Conv_U8); StoreX(d.Rd); break;
            case Op.Sll: ShiftReg(d, OpCodes.Shl, 63); break;
            case Op.Srl: ShiftReg(d, OpCodes.Shr_Un, 63); break;
            case Op.Sra: ShiftReg(d, OpCodes.Shr, 63); break;
            case Op.Addiw: LoadX(d.Rs1); _il.Emit(OpCodes.Ldc_I8, d.Imm); _il.Emit(OpCodes.Add); SignExtendWord(); StoreX(d.Rd); break;
            case Op.Addw: LoadX(d.Rs1); LoadX(d.Rs2); _il.Emit(OpCodes.Add); SignExtendWord(); StoreX(d.Rd); break;
            case Op.Subw: LoadX(d.Rs1); LoadX(d.Rs2); _il.Emit(OpCodes.Sub); SignExtendWord(); StoreX(d.Rd); break;
            case Op.Mulw: LoadX(d.Rs1); LoadX(d.Rs2); _il.Emit(OpCodes.Mul); SignExtendWord(); StoreX(d.Rd); break;
            case Op.Slliw: LoadX(d.Rs1); _il.Emit(OpCodes.Conv_I4); _il.Emit(OpCodes.Ldc_I4, (int)d.Imm); _il.Emit(OpCodes.Shl); _il.Emit(OpCodes.Conv_I8); StoreX(d.Rd); break;
            case Op.Srliw: LoadX(d.Rs1); _il.Emit(OpCodes.Conv_U4); _il.Emit(OpCodes.Ldc_I4, (int)d.Imm); _il.Emit(OpCodes.Shr_Un); _il.Emit(OpCodes.Conv_I8); StoreX(d.Rd); break;
            case Op.Sraiw: LoadX(d.Rs1); _il.Emit(OpCodes.Conv_I4); _il.Emit(OpCodes.Ldc_I4, (int)d.Imm); _il.Emit(OpCodes.Shr); _il.Emit(OpCodes.Conv_I8); StoreX(d.Rd); break;
            case Op.Sllw: ShiftWord(d, OpCodes.Shl, OpCodes.Conv_I4); break;
            case Op.Srlw: ShiftWord(d, OpCodes.Shr_Un, OpCodes.Conv_U4); break;
            case Op.Sraw: ShiftWord(d, OpCodes.Shr, OpCodes.Conv_I4); break;
            case Op.Mulh: CallValue(d, nameof(Rv64M.MulhValue)); break;
            case Op.Mulhu: CallValue(d, nameof(Rv64M.MulhuValue)); break;
            case Op.Mulhsu: CallValue(d, nameof(Rv64M.MulhsuValue)); break;
            case Op.Div: CallValue(d, nameof(Rv64M.DivValue)); break;
            case Op.Divu: CallValue(d, nameof(Rv64M.DivuValue)); break;
            case Op.Rem: CallValue(d, nameof(Rv64M.RemValue)); break;
            case Op.Remu: CallValue(d, nameof(Rv64M.RemuValue)); break;
            case Op.Divw: CallValue(d, nameof(Rv64M.DivwValue)); break;
            case Op.Divuw: CallValue(d, nameof(Rv64M.DivuwValue)); break;
            case Op.Remw: CallValue(d, nameof(Rv64M.RemwValue)); break;
            case Op.Remuw: CallValue(d, nameof(Rv64M.RemuwValue)); break;
            case Op.Fence:
                if (((d.Imm >> 4) & 1) != 0 && (d.Imm & 2) != 0) Call(Method(typeof(JitHelpers), nameof(JitHelpers.FullFence)));
                break;
            case Op.Lb: EmitLoad(d, off, k, 1, true); break;
            case Op.Lh: EmitLoad(d, off, k, 2, true); break;
            case Op.Lw: EmitLoad(d, off, k, 4, true); break;
            case Op.Ld: EmitLoad(d, off, k, 8, false); break;
            case Op.Lbu: EmitLoad(d, off, k, 1, false); break;
            case Op.Lhu: EmitLoad(d, off, k, 2, false); break;
            case Op.Lwu: EmitLoad(d, off, k, 4, false); break;
            case Op.Sb: EmitStore(d, off, k, 1); break;
            case Op.Sh: EmitStore(d, off, k, 2); break;
            case Op.Sw: EmitStore(d, off, k, 4); break;
            case Op.Sd: EmitStore(d, off, k, 8); break;
            case Op.LrW: EmitHelper(d, off, k, LrW); break;
            case Op.LrD: EmitHelper(d, off, k, LrD); break;
            case Op.ScW: EmitHelper(d, off, k, ScW); break;
            case Op.ScD: EmitHelper(d, off, k, ScD); break;
            case >= Op.AmoswapW and <= Op.AmomaxuW:
            case >= Op.AmoswapD and <= Op.AmomaxuD:
                EmitHelper(d, off, k, Amo); break;
            case >= Op.Flw and <= Op.FcvtSLu: EmitFloat(d, off, k, FExecute); break;
            case >= Op.Fld and <= Op.FmvDX: EmitFloat(d, off, k, DExecute); break;
            case Op.Csrrw or Op.Csrrs or Op.Csrrc or Op.Csrrwi or Op.Csrrsi or Op.Csrrci:
                EmitHelper(d, off, k, CsrExecute);
                _rmKnown = false; // frm or fcsr may have been written
                break;
            default:
                throw new InvalidOperationException($"no translation for {d.Op} (region builder should have stopped before it)");
        }
    }

    private static bool IsPureAlu(Op op) => op is >= Op.Lui and <= Op.Sraw and not (Op.Jal or Op.Jalr or Op.Beq or Op.Bne
        or Op.Blt or Op.Bge or Op.Bltu or Op.Bgeu or Op.Lb or Op.Lh or Op.Lw or Op.Ld or Op.Lbu or Op.Lhu or Op.Lwu
        or Op.Sb or Op.Sh or Op.Sw or Op.Sd) || op is >= Op.Mul and <= Op.Remuw;

    private void ShiftImm(in DecodedInsn d, OpCode op)
    {
        LoadX(d.Rs1);
        _il.Emit(OpCodes.Ldc_I4, (int)d.Imm);
        _il.Emit(op);
        StoreX(d.Rd);
    }

    private void ShiftReg(in DecodedInsn d, OpCode op, int mask)
    {
        LoadX(d.Rs1);
        LoadX(d.Rs2);
        _il.Emit(OpCodes.Conv_I4);
        _il.Emit(OpCodes.Ldc_I4, mask);
        _il.Emit(OpCodes.And);
        _il.Emit(op);
        StoreX(d.Rd);
    }

    private void ShiftWord(in DecodedInsn d, OpCode op, OpCode narrow)
    {
        LoadX(d.Rs1);
        _il.Emit(narrow);
        LoadX(d.Rs2);
        _il.Emit(OpCodes.Conv_I4);
        _il.Emit(OpCodes.Ldc_I4, 31);
        _il.Emit(OpCodes.And);
        _il.Emit(op);
        _il.Emit(OpCodes.Conv_I8);
        StoreX(d.Rd);
    }

    // Loads and stores run the TLB hit path inline (SoftMmu's fast path, the same compare): index from the
    // virtual page, tag (with the access's alignment bits, so a misaligned access never hits) and context
    // compared, then the host address is the virtual address plus the entry's addend. Everything else
    // (miss, SlowOnly entry for a device or a watched or code page, misaligned access, fault) calls the
    // MMU out of line from a stub placed after the hot code. Stores to pages holding code never hit: the
    // write TLB holds no fast entry for them (SoftMmu.Translate, MarkCode, SyncWatches).

    private const int TlbEntrySize = 32;
    private const int TlbAddend = 16;

    /// <summary>Leaves the guest address of the access in <see cref="_va"/>.</summary>
    private void EmitAddress(in DecodedInsn d)
    {
        LoadX(d.Rs1);
        if (d.Imm != 0)
        {
            _il.Emit(OpCodes.Ldc_I8, d.Imm);
            _il.Emit(OpCodes.Add);
        }
        _il.Emit(OpCodes.Stloc, _va);
    }

    /// <summary>Probes the TLB whose base is in <paramref name="tlb"/> for the access at <see cref="_va"/>: on
    /// a hit leaves the host address on the stack, on a miss branches to <paramref name="miss"/> (stack
    /// empty). Tag and context are compared with one branch (both differences or-ed), which saves RyuJIT a
    /// block per access.</summary>
    private void EmitTlbProbe(LocalBuilder tlb, int size, Label miss)
    {
        // entry = tlb + ((va >> 12) & (TlbSize - 1)) * sizeof(TlbEntry)
        _il.Emit(OpCodes.Ldloc, tlb);
        _il.Emit(OpCodes.Ldloc, _va);
        _il.Emit(OpCodes.Ldc_I4_7); // 12 - log2(sizeof(TlbEntry))
        _il.Emit(OpCodes.Shr_Un);
        _il.Emit(OpCodes.Conv_I);
        _il.Emit(OpCodes.Ldc_I4, (Trapeze.Core.Mmu.SoftMmu.TlbSize - 1) * TlbEntrySize);
        _il.Emit(OpCodes.And);
        _il.Emit(OpCodes.Add);
        _il.Emit(OpCodes.Stloc, _entry);
        _il.Emit(OpCodes.Ldloc, _entry);
        _il.Emit(OpCodes.Ldind_I8);
        _il.Emit(OpCodes.Ldloc, _va);
        _il.Emit(OpCodes.Ldc_I8, (long)(Trapeze.Core.Mmu.SoftMmu.PageMask | (ulong)(size - 1)));
        _il.Emit(OpCodes.And);
        _il.Emit(OpCodes.Xor);
        _il.Emit(OpCodes.Ldloc, _entry);
        _il.Emit(OpCodes.Ldc_I4_8); // TlbCtx
        _il.Emit(OpCodes.Add);
        _il.Emit(OpCodes.Ldind_I8);
        _il.Emit(OpCodes.Ldloc, _dataCtx);
        _il.Emit(OpCodes.Xor);
        _il.Emit(OpCodes.Or);
        _il.Emit(OpCodes.Brtrue, miss);
        _il.Emit(OpCodes.Ldloc, _entry);
        _il.Emit(OpCodes.Ldc_I4, TlbAddend);
        _il.Emit(OpCodes.Add);
        _il.Emit(OpCodes.Ldind_I);
        _il.Emit(OpCodes.Ldloc, _va);
        _il.Emit(OpCodes.Conv_I);
        _il.Emit(OpCodes.Add);
    }

    private static OpCode LoadIndirect(int size, bool signed) => (size, signed) switch
    {
        (1, true) => OpCodes.Ldind_I1, (1, false) => OpCodes.Ldind_U1,
        (2, true) => OpCodes.Ldind_I2, (2, false) => OpCodes.Ldind_U2,
        (4, true) => OpCodes.Ldind_I4, (4, false) => OpCodes.Ldind_U4,
        _ => OpCodes.Ldind_I8,
    };

    private static OpCode StoreIndirect(int size) => size switch
    {
        1 => OpCodes.Stind_I1, 2 => OpCodes.Stind_I2, 4 => OpCodes.Stind_I4, _ => OpCodes.Stind_I8,
    };

    /// <summary>A load whose zero- or sign-extended value goes where <paramref name="store"/> puts the
    /// 64-bit value on the stack.</summary>
    private void EmitLoadValue(in DecodedInsn d, int off, int k, int size, bool signed, Action store)
    {
        EmitAddress(d);
        var miss = _il.DefineLabel();
        var done = _il.DefineLabel();
        EmitTlbProbe(_readTlb, size, miss);
        _il.Emit(LoadIndirect(size, signed));
        _il.Emit(signed || size == 8 ? OpCodes.Conv_I8 : OpCodes.Conv_U8);
        store();
        _il.MarkLabel(done);
        if (_region.LeaveAtMiss)
        {
            LeaveAt(miss, off, k);
            return;
        }
        _cold.Add(() =>
        {
            _il.MarkLabel(miss);
            _il.Emit(OpCodes.Ldarg_2);
            _il.Emit(OpCodes.Ldloc, _va);
            _il.Emit(OpCodes.Ldc_I8, FaultPosition(off, k));
            Call(LoadHelpers[size]);
            _il.Emit(OpCodes.Brfalse, _memoryFaultTail);
            LoadStateField(HartStateLayout.JitValue);
            if (signed)
            {
                _il.Emit(size switch { 1 => OpCodes.Conv_I1, 2 => OpCodes.Conv_I2, _ => OpCodes.Conv_I4 });
                _il.Emit(OpCodes.Conv_I8);
            }
            store();
            _il.Emit(OpCodes.Br, done);
        });
    }

    private void EmitLoad(in DecodedInsn d, int off, int k, int size, bool signed)
    {
        int rd = d.Rd;
        EmitLoadValue(d, off, k, size, signed, () => StoreX(rd));
    }

    /// <summary>A store of the 64-bit value <paramref name="value"/> pushes (truncated to the access size).</summary>
    private void EmitStoreValue(in DecodedInsn d, int off, int k, int size, Action value)
    {
        EmitAddress(d);
        var miss = _il.DefineLabel();
        var done = _il.DefineLabel();
        EmitTlbProbe(_writeTlb, size, miss);
        value();
        _il.Emit(StoreIndirect(size));
        _il.MarkLabel(done);
        if (_region.LeaveAtMiss)
        {
            LeaveAt(miss, off, k);
            return;
        }
        _cold.Add(() =>
        {
            _il.MarkLabel(miss);
            _il.Emit(OpCodes.Ldarg_2);
            _il.Emit(OpCodes.Ldloc, _va);
            value();
            _il.Emit(OpCodes.Ldc_I8, FaultPosition(off, k));
            Call(StoreHelpers[size]);
            _il.Emit(OpCodes.Brfalse, _memoryFaultTail);
            _il.Emit(OpCodes.Br, done);
        });
    }

    /// <summary>The cold path of an access in a region that leaves at TLB misses: exit before the
    /// instruction (see <see cref="RegionExit.LeftAtMiss"/>), with its position for the shared tail.</summary>
    private void LeaveAt(Label miss, int off, int k)
    {
        _leaves = true;
        _cold.Add(() =>
        {
            _il.MarkLabel(miss);
            _il.Emit(OpCodes.Ldc_I8, FaultPosition(off, k));
            _il.Emit(OpCodes.Stloc, _fault);
            _il.Emit(OpCodes.Br, _leaveTail);
        });
    }

    private void EmitStore(in DecodedInsn d, int off, int k, int size)
    {
        int rs2 = d.Rs2;
        EmitStoreValue(d, off, k, size, () => LoadX(rs2));
    }

    private static readonly Dictionary<int, MethodInfo> LoadHelpers = new()
    {
        [1] = Method(typeof(JitHelpers), nameof(JitHelpers.Load8)), [2] = Method(typeof(JitHelpers), nameof(JitHelpers.Load16)),
        [4] = Method(typeof(JitHelpers), nameof(JitHelpers.Load32)), [8] = Method(typeof(JitHelpers), nameof(JitHelpers.Load64)),
    };

    private static readonly Dictionary<int, MethodInfo> StoreHelpers = new()
    {
        [1] = Method(typeof(JitHelpers), nameof(JitHelpers.Store8)), [2] = Method(typeof(JitHelpers), nameof(JitHelpers.Store16)),
        [4] = Method(typeof(JitHelpers), nameof(JitHelpers.Store32)), [8] = Method(typeof(JitHelpers), nameof(JitHelpers.Store64)),
    };

    // ------------------------------------------------------------------ F and D

    private static readonly Dictionary<Op, MethodInfo> FloatOps = BuildFloatOps();

    private static Dictionary<Op, MethodInfo> BuildFloatOps()
    {
        var ops = new Dictionary<Op, MethodInfo>();
        foreach (var m in typeof(JitFloat).GetMethods(BindingFlags.Public | BindingFlags.Static))
            if (Enum.TryParse<Op>(m.Name, out var op)) ops[op] = m;
        return ops;
    }

    private static bool ReadsX(Op op) => op is Op.FcvtSW or Op.FcvtSWu or Op.FcvtSL or Op.FcvtSLu or Op.FmvWX
        or Op.FcvtDW or Op.FcvtDWu or Op.FcvtDL or Op.FcvtDLu or Op.FmvDX;

    private static bool WritesX(Op op) => op is Op.FcvtWS or Op.FcvtWuS or Op.FcvtLS or Op.FcvtLuS or Op.FmvXW
        or Op.FeqS or Op.FltS or Op.FleS or Op.FclassS or Op.FcvtWD or Op.FcvtWuD or Op.FcvtLD or Op.FcvtLuD
        or Op.FmvXD or Op.FeqD or Op.FltD or Op.FleD or Op.FclassD;

    private void LoadF(int r)
    {
        StateAddress(HartStateLayout.FReg(r));
        _il.Emit(OpCodes.Ldind_I8);
    }

    /// <summary>Writes the value on the stack to f[rd] and, when <paramref name="markDirty"/>, marks FS
    /// dirty as FpHelpers.WriteD does (once per block is enough: nothing inside a block makes FS clean).</summary>
    private void StoreF(int rd, bool markDirty)
    {
        _il.Emit(OpCodes.Stloc, _fpValue);
        StateAddress(HartStateLayout.FReg(rd));
        _il.Emit(OpCodes.Ldloc, _fpValue);
        _il.Emit(OpCodes.Stind_I8);
        if (!markDirty) return;
        StateAddress(HartStateLayout.Mstatus);
        LoadStateField(HartStateLayout.Mstatus);
        _il.Emit(OpCodes.Ldc_I8, unchecked((long)(Mstatus.FsDirty | Mstatus.Sd)));
        _il.Emit(OpCodes.Or);
        _il.Emit(OpCodes.Stind_I8);
    }

    /// <summary>
    /// An F or D instruction: loads and stores through the inline TLB path, moves and sign injections of
    /// doubles in IL, arithmetic through <see cref="JitFloat"/>. The checks the interpreter makes first
    /// (FS off, a reserved rounding mode in the instruction or in frm) send the instruction to the
    /// interpreter's handler, which raises the exception exactly.
    /// </summary>
    private void EmitFloat(in DecodedInsn d, int off, int k, MethodInfo handler)
    {
        bool usesRm = Rv64F.UsesRounding(d.Op);
        if (usesRm && d.Rm is 5 or 6)
        {
            EmitHelper(d, off, k, handler); // always illegal
            return;
        }
        // The FS and frm checks are made by the first instruction of the block that needs them: a later one
        // is reached only if they passed (a failed check traps in the interpreter's handler).
        var fallback = _il.DefineLabel();
        var done = _il.DefineLabel();
        bool needsFallback = false;
        if (!_fsKnownOn)
        {
            _il.Emit(OpCodes.Ldloc, _fsOn);
            _il.Emit(OpCodes.Brfalse, fallback);
            needsFallback = true;
        }
        bool dynamic = usesRm && d.Rm == 7;
        if (dynamic && !_rmKnown)
        {
            StateAddress(HartStateLayout.Frm);
            _il.Emit(OpCodes.Ldind_U1);
            _il.Emit(OpCodes.Stloc, _rm);
            _il.Emit(OpCodes.Ldloc, _rm);
            _il.Emit(OpCodes.Ldc_I4_4);
            _il.Emit(OpCodes.Bgt_Un, fallback);
            needsFallback = true;
        }
        _fsKnownOn = true;
        if (dynamic) _rmKnown = true;
        bool dirty = !_fsDirtied;
        if (!WritesX(d.Op) && d.Op is not (Op.Fsd or Op.Fsw or Op.FmvXD or Op.FmvXW)) _fsDirtied = true;
        int rd = d.Rd, rs1 = d.Rs1, rs2 = d.Rs2;
        switch (d.Op)
        {
            case Op.Fld: EmitLoadValue(d, off, k, 8, false, () => StoreF(rd, dirty)); break;
            case Op.Flw:
                EmitLoadValue(d, off, k, 4, false, () =>
                {
                    _il.Emit(OpCodes.Ldc_I8, unchecked((long)0xffff_ffff_0000_0000UL));
                    _il.Emit(OpCodes.Or);
                    StoreF(rd, dirty);
                });
                break;
            case Op.Fsd: EmitStoreValue(d, off, k, 8, () => LoadF(rs2)); break;
            case Op.Fsw: EmitStoreValue(d, off, k, 4, () => LoadF(rs2)); break;
            case Op.FmvDX: LoadX(rs1); StoreF(rd, dirty); break;
            case Op.FmvXD: LoadF(rs1); StoreX(rd); break;
            case Op.FmvWX:
                LoadX(rs1);
                _il.Emit(OpCodes.Conv_U4);
                _il.Emit(OpCodes.Conv_U8);
                _il.Emit(OpCodes.Ldc_I8, unchecked((long)0xffff_ffff_0000_0000UL));
                _il.Emit(OpCodes.Or);
                StoreF(rd, dirty);
                break;
            case Op.FmvXW: LoadF(rs1); SignExtendWord(); StoreX(rd); break;
            case Op.FsgnjD or Op.FsgnjnD or Op.FsgnjxD:
            {
                const long sign = long.MinValue;
                LoadF(rs1);
                if (d.Op != Op.FsgnjxD)
                {
                    _il.Emit(OpCodes.Ldc_I8, ~sign);
                    _il.Emit(OpCodes.And);
                }
                LoadF(rs2);
                if (d.Op == Op.FsgnjnD) _il.Emit(OpCodes.Not);
                _il.Emit(OpCodes.Ldc_I8, sign);
                _il.Emit(OpCodes.And);
                _il.Emit(d.Op == Op.FsgnjxD ? OpCodes.Xor : OpCodes.Or);
                StoreF(rd, dirty);
                break;
            }
            default:
            {
                var m = FloatOps[d.Op];
                int operands = m.GetParameters().Length - 2;
                _il.Emit(OpCodes.Ldarg_1);
                if (ReadsX(d.Op)) LoadX(rs1);
                else LoadF(rs1);
                if (operands >= 2) LoadF(rs2);
                if (operands >= 3) LoadF(d.Rs3);
                if (dynamic) _il.Emit(OpCodes.Ldloc, _rm);
                else _il.Emit(OpCodes.Ldc_I4, usesRm ? d.Rm : 0);
                Call(m);
                if (WritesX(d.Op)) StoreX(rd);
                else StoreF(rd, dirty);
                break;
            }
        }
        _il.MarkLabel(done);
        if (!needsFallback) return;
        var insn = d;
        _cold.Add(() =>
        {
            _il.MarkLabel(fallback);
            EmitHelper(insn, off, k, handler);
            _il.Emit(OpCodes.Br, done);
        });
    }

    /// <summary>What the fault tail needs to know of an instruction: its page offset and how many
    /// instructions of its block retired before it.</summary>
    private static long FaultPosition(int off, int k) => ((long)off << 32) | (uint)k;

    /// <summary>After a helper returning false for "raised an exception": leave through the shared fault
    /// tail with this instruction's page offset and position packed in one constant.</summary>
    private void EmitFaultCheck(int off, int k)
    {
        var ok = _il.DefineLabel();
        _il.Emit(OpCodes.Brtrue, ok);
        _il.Emit(OpCodes.Ldc_I8, FaultPosition(off, k));
        _il.Emit(OpCodes.Stloc, _fault);
        _il.Emit(OpCodes.Br, _faultTail);
        _il.MarkLabel(ok);
    }

    /// <summary>An instruction run by the interpreter's own handler (A, CSR, and F/D instructions whose
    /// checks fail): the integer registers it reads are written to the hart state first, the one it writes
    /// is read back after.</summary>
    private void EmitHelper(in DecodedInsn d, int off, int k, MethodInfo handler)
    {
        XRoles(d, out int r1, out int r2, out int wd);
        foreach (int r in new[] { r1, r2 })
        {
            if (r <= 0) continue;
            StateAddress(HartStateLayout.XReg(r));
            _il.Emit(OpCodes.Ldloc, _x[r]!);
            _il.Emit(OpCodes.Stind_I8);
        }
        int index = _helperInsns.Count;
        _helperInsns.Add(d);
        _il.Emit(OpCodes.Ldarg_2);
        _il.Emit(OpCodes.Ldarg_1);
        _il.Emit(OpCodes.Ldarg_0);
        _il.Emit(OpCodes.Ldc_I4, index);
        _il.Emit(OpCodes.Ldelema, typeof(DecodedInsn));
        Call(handler);
        EmitFaultCheck(off, k);
        if (wd > 0)
        {
            LoadStateField(HartStateLayout.XReg(wd));
            _il.Emit(OpCodes.Stloc, _x[wd]!);
        }
    }
}
