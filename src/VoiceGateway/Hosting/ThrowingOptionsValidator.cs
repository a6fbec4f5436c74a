using Microsoft.Extensions.Options;

namespace VoiceAgent.Gateway.Hosting;

/// <summary>
/// Turns an options class's own <c>Validate()</c>, which throws <see cref="ArgumentException"/> naming the first bad
/// setting, into an options failure: start-up then ends with that sentence rather than a stack trace.
/// </summary>
internal sealed class ThrowingOptionsValidator<TOptions>(Action<TOptions> validate) : IValidateOptions<TOptions>
    where TOptions : class
{
    public ValidateOptionsResult Validate(string? name, TOptions options)
    {
        try
        {
            validate(options);
            return ValidateOptionsResult.Success;
        }
        catch (ArgumentException ex)
        {
            return ValidateOptionsResult.Fail(ex.Message);
        }
    }
}
