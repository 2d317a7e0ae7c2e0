using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace Trapeze.Integration.Tests;

/// <summary>
/// A <c>$TRAPEZE_HOME</c> of its own for one test, with the <c>trapeze</c> commands run against it. On
/// dispose, every VM process it recorded (vm.pid) is killed and the directory removed, so a failed test
/// leaves no VM running.
/// </summary>
public sealed class VmTestHome : IDisposable
{
    public static readonly TimeSpan BootTimeout = TimeSpan.FromSeconds(120);

    private readonly List<Process> _daemons = [];

    public VmTestHome(ScratchDirectory scratch, string name = "home")
    {
        Root = scratch.File(name);
        Directory.CreateDirectory(Root);
    }

    public string Root { get; }
    public string Bundle(string vm) => Path.Combine(Root, "vms", vm);
    public string ConsoleLog(string vm) => Path.Combine(Bundle(vm), "console.log");
    public string DaemonSocket => Path.Combine(Root, "trapezed.sock");

    public ProcessStartInfo StartInfo(params string[] args)
    {
        var psi = TrapezeCli.StartInfo(args);
        psi.Environment["TRAPEZE_HOME"] = Root;
        return psi;
    }

    public ProcessResult Run(params string[] args) => ProcessRunner.Run(StartInfo(args), TimeSpan.FromSeconds(90));

    /// <summary>Runs a command that must succeed.</summary>
    public ProcessResult Ok(params string[] args)
    {
        var r = Run(args);
        Assert.True(r.ExitCode == 0, $"trapeze {string.Join(' ', args)} failed:\n{r}");
        return r;
    }

    /// <summary>Creates a small Linux VM (the default guest, built-in SBI: a boot of a few seconds).</summary>
    public void CreateLinux(string vm, string append, params string[] extra)
    {
        GuestImage.Ensure();
        Ok(["create", vm, "--kernel", GuestImage.Kernel, "--initrd", GuestImage.Initrd, "--append", append,
            "--bios", "builtin", "--mem", "256M", .. extra]);
    }

    /// <summary>The state column of <c>trapeze list</c> for each VM.</summary>
    public Dictionary<string, string> States()
    {
        var r = Ok("list");
        return r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .ToDictionary(f => f[0], f => f[1]);
    }

    /// <summary>Waits until the VM's console log matches <paramref name="pattern"/>; returns the log.</summary>
    public string WaitForConsole(string vm, string pattern, TimeSpan? timeout = null)
    {
        var sw = Stopwatch.StartNew();
        var re = new Regex(pattern);
        string log = "";
        while (sw.Elapsed < (timeout ?? BootTimeout))
        {
            try { log = File.ReadAllText(ConsoleLog(vm)); }
            catch (IOException) { }
            if (re.IsMatch(log)) return log;
            Thread.Sleep(100);
        }
        Assert.Fail($"{vm}: no /{pattern}/ on its console within {(timeout ?? BootTimeout).TotalSeconds} s; vm-process.log:\n" +
            $"{ReadOrEmpty(Path.Combine(Bundle(vm), "vm-process.log"))}\nconsole.log:\n{Tail(log)}");
        return log;
    }

    /// <summary>Waits for the busybox shell of the default guest's <paramref name="boot"/>th boot (the console
    /// log is appended to by every start of the VM).</summary>
    public void WaitForShell(string vm, int boot = 1) => WaitForConsole(vm, $"(?s)(Enter 'help' for a list.*){{{boot}}}");

    /// <summary>
    /// <c>trapeze console VM</c> with a pipe for stdin: sends <paramref name="command"/>, reads the console
    /// until <paramref name="expect"/> shows, then detaches with Ctrl-A d. Returns what the console showed.
    /// </summary>
    public string Console(string vm, string command, string expect)
    {
        var psi = StartInfo("console", vm);
        using var p = Process.Start(psi)!;
        var output = new StringBuilder();
        var seen = new ManualResetEventSlim();
        var re = new Regex(expect);
        var reader = new Thread(() =>
        {
            var buf = new char[1024];
            int n;
            while ((n = p.StandardOutput.Read(buf, 0, buf.Length)) > 0)
            {
                lock (output)
                {
                    output.Append(buf, 0, n);
                    if (re.IsMatch(output.ToString())) seen.Set();
                }
            }
        }) { IsBackground = true };
        reader.Start();
        var stderr = p.StandardError.ReadToEndAsync();
        // Give the console a moment to attach before typing (input before that would still reach the guest).
        Thread.Sleep(200);
        p.StandardInput.Write(command + "\n");
        p.StandardInput.Flush();
        bool ok = seen.Wait(TimeSpan.FromSeconds(30));
        p.StandardInput.Write("\u0001d");
        p.StandardInput.Flush();
        bool exited = p.WaitForExit(TimeSpan.FromSeconds(10));
        if (!exited) p.Kill();
        string text;
        lock (output) text = output.ToString();
        Assert.True(ok, $"{vm}: no /{expect}/ on the console after '{command}':\n{Tail(text)}\nstderr: {(exited ? stderr.Result : "")}");
        Assert.True(exited, $"{vm}: console did not detach on Ctrl-A d");
        Assert.Equal(0, p.ExitCode);
        Assert.Contains("detached", stderr.Result);
        return text;
    }

    /// <summary>Starts <c>trapeze daemon</c> and waits for its socket.</summary>
    public Process StartDaemon()
    {
        var p = Process.Start(StartInfo("daemon"))!;
        _daemons.Add(p);
        p.StandardInput.Close();
        var sw = Stopwatch.StartNew();
        while (!File.Exists(DaemonSocket))
        {
            if (p.HasExited) Assert.Fail($"the daemon exited: {p.StandardError.ReadToEnd()}");
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(30), "the daemon did not make its socket within 30 s");
            Thread.Sleep(50);
        }
        return p;
    }

    public int? Pid(string vm) =>
        File.Exists(Path.Combine(Bundle(vm), "vm.pid")) && int.TryParse(File.ReadAllText(Path.Combine(Bundle(vm), "vm.pid")).Trim(), out int pid) ? pid : null;

    private static string ReadOrEmpty(string path)
    {
        try { return File.ReadAllText(path); }
        catch (IOException) { return ""; }
    }

    private static string Tail(string s) => s.Length <= 3000 ? s : "..." + s[^3000..];

    public void Dispose()
    {
        foreach (Process d in _daemons)
        {
            try { if (!d.HasExited) d.Kill(); }
            catch (InvalidOperationException) { }
            d.Dispose();
        }
        string vms = Path.Combine(Root, "vms");
        if (!Directory.Exists(vms)) return;
        foreach (string dir in Directory.GetDirectories(vms))
        {
            if (Pid(Path.GetFileName(dir)) is not { } pid) continue;
            try
            {
                using var p = Process.GetProcessById(pid);
                p.Kill();
                p.WaitForExit(5000);
            }
            catch (ArgumentException) { }
            catch (InvalidOperationException) { }
        }
    }
}
