using System.Reflection;
using System.Runtime.CompilerServices;

namespace Trapeze.Vmm.Tests;

/// <summary>The action set stays closed and every member of it names its VM.</summary>
public sealed class VmActionTests
{
    private static IEnumerable<Type> Actions =>
        typeof(VmAction).GetNestedTypes().Where(t => t.IsSubclassOf(typeof(VmAction)));

    [Fact]
    public void Every_action_is_sealed_and_the_base_cannot_be_extended_elsewhere()
    {
        Assert.All(Actions, t => Assert.True(t.IsSealed, $"{t.Name} is not sealed"));
        // The compiler's copy constructor of a record (protected, taking a VmAction) only copies an existing one.
        Assert.All(typeof(VmAction).GetConstructors(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)
                .Where(c => c.GetParameters() is not [{ ParameterType: var p }] || p != typeof(VmAction)),
            c => Assert.True(c.IsPrivate, $"VmAction has a non-private constructor {c}"));
    }

    [Fact]
    public void Every_action_about_a_vm_names_it_as_its_target()
    {
        foreach (Type t in Actions)
        {
            // An instance with every field zero: Target must read the VM name from the right property.
            var action = (VmAction)RuntimeHelpers.GetUninitializedObject(t);
            PropertyInfo? name = t.GetProperty("Name");
            if (name != null)
            {
                name.SetValue(action, "vm1");
                Assert.True(action.Target == "vm1", $"{t.Name}.Target is not its Name");
            }
            else if (t != typeof(VmAction.Create))
            {
                Assert.True(action.Target == null, $"{t.Name} has no Name, yet a Target");
            }
        }
        Assert.Equal("n", new VmAction.Create(new VmCreateRequest { Name = "n" }).Target);
    }
}
