using System.Globalization;
using System.Text;

namespace DiffusionKernels.Runtime.IO;

/// <summary>
/// The header of a .npy file: a Python dict literal with exactly the keys 'descr' (a dtype string),
/// 'fortran_order' (True/False) and 'shape' (a tuple of non-negative ints, () for a scalar), as numpy writes it
/// (e.g. <c>{'descr': '&lt;f4', 'fortran_order': False, 'shape': (2, 3), }</c>), followed by space padding and a newline.
/// Only that subset of Python literal syntax is parsed; anything else is rejected with the position it was found at.
/// </summary>
internal sealed record NpyHeader(string Descr, bool FortranOrder, int[] Shape)
{
    /// <summary>Parses <paramref name="text"/>; errors are <see cref="ModelFormatException"/> naming <paramref name="path"/>.</summary>
    public static NpyHeader Parse(string text, string path) => new Parser(text, path).Header();

    /// <summary>The dict as numpy formats it (keys sorted, trailing ", "), without padding.</summary>
    public static string Format(string descr, int[] shape)
    {
        var tuple = shape.Length == 1 ? $"({shape[0]},)" : $"({string.Join(", ", shape)})";
        return $"{{'descr': '{descr}', 'fortran_order': False, 'shape': {tuple}, }}";
    }

    private sealed class Parser(string text, string path)
    {
        private int _at;

        public NpyHeader Header()
        {
            string? descr = null;
            bool? fortran = null;
            int[]? shape = null;
            Expect('{');
            while (true)
            {
                if (Peek() == '}') break;
                int keyAt = SkipSpace();
                var key = String();
                Expect(':');
                switch (key)
                {
                    case "descr" when descr is null:
                        if (Peek() == '[') throw Bad("structured dtypes (a list 'descr') are not supported");
                        descr = String();
                        break;
                    case "fortran_order" when fortran is null:
                        fortran = Bool();
                        break;
                    case "shape" when shape is null:
                        shape = Tuple();
                        break;
                    case "descr" or "fortran_order" or "shape":
                        throw Bad($"key '{key}' appears twice", keyAt);
                    default:
                        throw Bad($"unexpected key '{key}' (a .npy header holds only 'descr', 'fortran_order' and 'shape')", keyAt);
                }
                if (Peek() != ',') break;
                _at++;
            }
            Expect('}');
            SkipSpace();
            if (_at != text.Length) throw Bad("unexpected text after the header dict");
            return new NpyHeader(descr ?? throw Bad("the header has no 'descr'"), fortran ?? throw Bad("the header has no 'fortran_order'"),
                                 shape ?? throw Bad("the header has no 'shape'"));
        }

        private string String()
        {
            char quote = Peek();
            if (quote is not ('\'' or '"')) throw Bad("a quoted string was expected");
            int start = ++_at;
            while (_at < text.Length && text[_at] != quote)
            {
                if (text[_at] is '\\' or '\n') throw Bad("escapes and line breaks in strings are not supported");
                _at++;
            }
            if (_at == text.Length) throw Bad("unterminated string", start - 1);
            return text[start.._at++];
        }

        private bool Bool()
        {
            SkipSpace();
            if (Matches("True")) return true;
            if (Matches("False")) return false;
            throw Bad("True or False was expected");
        }

        private int[] Tuple()
        {
            Expect('(');
            var dims = new List<int>();
            bool trailingComma = false;
            while (Peek() != ')')
            {
                dims.Add(Int());
                trailingComma = Peek() == ',';
                if (!trailingComma) break;
                _at++;
            }
            Expect(')');
            // "(3)" is the int 3 in Python, not a tuple.
            if (dims.Count == 1 && !trailingComma) throw Bad("'shape' is not a tuple (a 1-d shape is written (n,))");
            return [.. dims];
        }

        private int Int()
        {
            int start = SkipSpace();
            while (_at < text.Length && char.IsAsciiDigit(text[_at])) _at++;
            if (_at == start) throw Bad("a non-negative integer was expected");
            if (!int.TryParse(text.AsSpan(start, _at - start), NumberStyles.None, CultureInfo.InvariantCulture, out int value))
                throw Bad($"dimension {text[start.._at]} is larger than 2^31-1", start);
            if (_at < text.Length && text[_at] is 'L' or 'l') _at++; // Python 2 longs, as old numpy wrote them
            return value;
        }

        private bool Matches(string word)
        {
            if (string.CompareOrdinal(text, _at, word, 0, word.Length) != 0) return false;
            _at += word.Length;
            return true;
        }

        private void Expect(char c)
        {
            if (Peek() != c) throw Bad($"'{c}' was expected");
            _at++;
        }

        /// <summary>The next character after whitespace (or '\0' at the end).</summary>
        private char Peek()
        {
            SkipSpace();
            return _at < text.Length ? text[_at] : '\0';
        }

        private int SkipSpace()
        {
            while (_at < text.Length && text[_at] is ' ' or '\t' or '\n' or '\r') _at++;
            return _at;
        }

        private ModelFormatException Bad(string message, int? at = null)
        {
            int pos = at ?? _at;
            var found = pos < text.Length ? $"'{Excerpt(pos)}'" : "the end of the header";
            return new ModelFormatException($"{path}: not a valid .npy header: {message} at character {pos} (found {found}) in {Shown()}");
        }

        /// <summary>The header as shown in errors: without its padding, and cut short if a malformed file made it long.</summary>
        private string Shown()
        {
            var t = text.TrimEnd();
            return t.Length <= 200 ? t : t[..200] + "...";
        }

        private string Excerpt(int pos)
        {
            var sb = new StringBuilder();
            foreach (var c in text.AsSpan(pos, Math.Min(12, text.Length - pos))) sb.Append(char.IsControl(c) ? '?' : c);
            return sb.ToString();
        }
    }
}
