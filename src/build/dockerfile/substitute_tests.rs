//! Substitution tests: BuildKit's `shell/envVarTest` and `wordsTest` vectors
//! (Apache-2.0) as tables, plus the required-variable cases of `lex_test.go`.

use super::*;

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let m: std::collections::HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k: &str| m.get(k).cloned()
}

/// (input, expected or "error") with PWD=/home SHELL=bash KOREAN=한국어 NULL=.
const WORD_VECTORS: &[(&str, &str)] = &[
    (r##"hello"##, r##"hello"##),
    (r##"he'll'o"##, r##"hello"##),
    (r##"he'llo"##, r##"error"##),
    (r##"he\'llo"##, r##"he'llo"##),
    (r##"he\\'llo"##, r##"error"##),
    (r##"abc\tdef"##, r##"abctdef"##),
    (r##""abc\tdef""##, r##"abc\tdef"##),
    (r##""abc\\tdef""##, r##"abc\tdef"##),
    (r##"'abc\tdef'"##, r##"abc\tdef"##),
    (r##"hello\"##, r##"hello"##),
    (r##"hello\\"##, r##"hello\"##),
    (r##""hello"##, r##"error"##),
    (r##""hello\""##, r##"error"##),
    (r##""hel'lo""##, r##"hel'lo"##),
    (r##"'hello"##, r##"error"##),
    (r##"'hello\'"##, r##"hello\"##),
    (r##"'hello\there'"##, r##"hello\there"##),
    (r##"'hello\\there'"##, r##"hello\\there"##),
    (r##""''""##, r##"''"##),
    (r##"$."##, r##"$."##),
    (r##"he$1x"##, r##"hex"##),
    (r##"he$.x"##, r##"he$.x"##),
    (r##"he$pwd."##, r##"he."##),
    (r##"he$PWD"##, r##"he/home"##),
    (r##"he\$PWD"##, r##"he$PWD"##),
    (r##"he\\$PWD"##, r##"he\/home"##),
    (r##""he\$PWD""##, r##"he$PWD"##),
    (r##""he\\$PWD""##, r##"he\/home"##),
    (r##"\${}"##, r##"${}"##),
    (r##"\${}aaa"##, r##"${}aaa"##),
    (r##"he\${}"##, r##"he${}"##),
    (r##"he\${}xx"##, r##"he${}xx"##),
    (r##"${}"##, r##"error"##),
    (r##"${}aaa"##, r##"error"##),
    (r##"he${}"##, r##"error"##),
    (r##"he${}xx"##, r##"error"##),
    (r##"he${hi}"##, r##"he"##),
    (r##"he${hi}xx"##, r##"hexx"##),
    (r##"he${PWD}"##, r##"he/home"##),
    (r##"he${.}"##, r##"error"##),
    (r##"he${XXX:-000}xx"##, r##"he000xx"##),
    (r##"he${PWD:-000}xx"##, r##"he/homexx"##),
    (r##"he${XXX:-$PWD}xx"##, r##"he/homexx"##),
    (r##"he${XXX:-${PWD:-yyy}}xx"##, r##"he/homexx"##),
    (r##"he${XXX:-${YYY:-yyy}}xx"##, r##"heyyyxx"##),
    (r##"he${XXX:YYY}"##, r##"error"##),
    (r##"he${XXX?}"##, r##"error"##),
    (r##"he${XXX:?}"##, r##"error"##),
    (r##"he${PWD?}"##, r##"he/home"##),
    (r##"he${PWD:?}"##, r##"he/home"##),
    (r##"he${NULL?}"##, r##"he"##),
    (r##"he${NULL:?}"##, r##"error"##),
    (r##"he${XXX:+${PWD}}xx"##, r##"hexx"##),
    (r##"he${PWD:+${XXX}}xx"##, r##"hexx"##),
    (r##"he${PWD:+${SHELL}}xx"##, r##"hebashxx"##),
    (r##"he${XXX:+000}xx"##, r##"hexx"##),
    (r##"he${PWD:+000}xx"##, r##"he000xx"##),
    (r##"'he${XX}'"##, r##"he${XX}"##),
    (r##""he${PWD}""##, r##"he/home"##),
    (r##""he'$PWD'""##, r##"he'/home'"##),
    (r##""$PWD""##, r##"/home"##),
    (r##"'$PWD'"##, r##"$PWD"##),
    (r##"'\$PWD'"##, r##"\$PWD"##),
    (r##"'"hello"'"##, r##""hello""##),
    (r##"he\$PWD"##, r##"he$PWD"##),
    (r##""he\$PWD""##, r##"he$PWD"##),
    (r##"'he\$PWD'"##, r##"he\$PWD"##),
    (r##"he${PWD"##, r##"error"##),
    (r##"he${PWD:=000}xx"##, r##"error"##),
    (r##"he${PWD:+${PWD}:}xx"##, r##"he/home:xx"##),
    (r##"he${XXX:-\$PWD:}xx"##, r##"he$PWD:xx"##),
    (r##"he${XXX:-\${PWD}z}xx"##, r##"he${PWDz}xx"##),
    (r##"안녕하세요"##, r##"안녕하세요"##),
    (r##"안'녕'하세요"##, r##"안녕하세요"##),
    (r##"안'녕하세요"##, r##"error"##),
    (r##"안녕\'하세요"##, r##"안녕'하세요"##),
    (r##"안\\'녕하세요"##, r##"error"##),
    (r##"안녕\t하세요"##, r##"안녕t하세요"##),
    (r##""안녕\t하세요""##, r##"안녕\t하세요"##),
    (r##"'안녕\t하세요"##, r##"error"##),
    (r##"안녕하세요\"##, r##"안녕하세요"##),
    (r##"안녕하세요\\"##, r##"안녕하세요\"##),
    (r##""안녕하세요"##, r##"error"##),
    (r##""안녕하세요\""##, r##"error"##),
    (r##""안녕'하세요""##, r##"안녕'하세요"##),
    (r##"'안녕하세요"##, r##"error"##),
    (r##"'안녕하세요\'"##, r##"안녕하세요\"##),
    (r##"안녕$1x"##, r##"안녕x"##),
    (r##"안녕$.x"##, r##"안녕$.x"##),
    (r##"안녕$pwd."##, r##"안녕."##),
    (r##"안녕$PWD"##, r##"안녕/home"##),
    (r##"안녕\$PWD"##, r##"안녕$PWD"##),
    (r##"안녕\\$PWD"##, r##"안녕\/home"##),
    (r##"안녕\${}"##, r##"안녕${}"##),
    (r##"안녕\${}xx"##, r##"안녕${}xx"##),
    (r##"안녕${}"##, r##"error"##),
    (r##"안녕${}xx"##, r##"error"##),
    (r##"안녕${hi}"##, r##"안녕"##),
    (r##"안녕${hi}xx"##, r##"안녕xx"##),
    (r##"안녕${PWD}"##, r##"안녕/home"##),
    (r##"안녕${.}"##, r##"error"##),
    (r##"안녕${XXX:-000}xx"##, r##"안녕000xx"##),
    (r##"안녕${PWD:-000}xx"##, r##"안녕/homexx"##),
    (r##"안녕${XXX:-$PWD}xx"##, r##"안녕/homexx"##),
    (r##"안녕${XXX:-${PWD:-yyy}}xx"##, r##"안녕/homexx"##),
    (r##"안녕${XXX:-${YYY:-yyy}}xx"##, r##"안녕yyyxx"##),
    (r##"안녕${XXX:YYY}"##, r##"error"##),
    (r##"안녕${XXX:+${PWD}}xx"##, r##"안녕xx"##),
    (r##"안녕${PWD:+${XXX}}xx"##, r##"안녕xx"##),
    (r##"안녕${PWD:+${SHELL}}xx"##, r##"안녕bashxx"##),
    (r##"안녕${XXX:+000}xx"##, r##"안녕xx"##),
    (r##"안녕${PWD:+000}xx"##, r##"안녕000xx"##),
    (r##"'안녕${XX}'"##, r##"안녕${XX}"##),
    (r##""안녕${PWD}""##, r##"안녕/home"##),
    (r##""안녕'$PWD'""##, r##"안녕'/home'"##),
    (r##"'"안녕"'"##, r##""안녕""##),
    (r##"안녕\$PWD"##, r##"안녕$PWD"##),
    (r##""안녕\$PWD""##, r##"안녕$PWD"##),
    (r##"'안녕\$PWD'"##, r##"안녕\$PWD"##),
    (r##"안녕${PWD"##, r##"error"##),
    (r##"안녕${PWD:=000}xx"##, r##"error"##),
    (r##"안녕${PWD:+${PWD}:}xx"##, r##"안녕/home:xx"##),
    (r##"안녕${XXX:-\$PWD:}xx"##, r##"안녕$PWD:xx"##),
    (r##"안녕${XXX:-\${PWD}z}xx"##, r##"안녕${PWDz}xx"##),
    (r##"$KOREAN"##, r##"한국어"##),
    (r##"안녕$KOREAN"##, r##"안녕한국어"##),
    (r##"${{aaa}"##, r##"error"##),
    (r##"${aaa}}"##, r##"}"##),
    (r##"${aaa"##, r##"error"##),
    (r##"${{aaa:-bbb}"##, r##"error"##),
    (r##"${aaa:-bbb}}"##, r##"bbb}"##),
    (r##"${aaa:-bbb"##, r##"error"##),
    (r##"${aaa:-bbb}"##, r##"bbb"##),
    (r##"${aaa:-${bbb:-ccc}}"##, r##"ccc"##),
    (r##"${aaa:-bbb ${foo}"##, r##"error"##),
    (r##"${aaa:-bbb {foo}"##, r##"bbb {foo"##),
    (r##"${:}"##, r##"error"##),
    (r##"${:-bbb}"##, r##"error"##),
    (r##"${:+bbb}"##, r##"error"##),
    (r##"$1"##, r##""##),
    (r##"${1}"##, r##""##),
    (r##"${1:+bbb}"##, r##""##),
    (r##"${1:-bbb}"##, r##"bbb"##),
    (r##"$2"##, r##""##),
    (r##"${2}"##, r##""##),
    (r##"${2:+bbb}"##, r##""##),
    (r##"${2:-bbb}"##, r##"bbb"##),
    (r##"$3"##, r##""##),
    (r##"${3}"##, r##""##),
    (r##"${3:+bbb}"##, r##""##),
    (r##"${3:-bbb}"##, r##"bbb"##),
    (r##"$4"##, r##""##),
    (r##"${4}"##, r##""##),
    (r##"${4:+bbb}"##, r##""##),
    (r##"${4:-bbb}"##, r##"bbb"##),
    (r##"$5"##, r##""##),
    (r##"${5}"##, r##""##),
    (r##"${5:+bbb}"##, r##""##),
    (r##"${5:-bbb}"##, r##"bbb"##),
    (r##"$6"##, r##""##),
    (r##"${6}"##, r##""##),
    (r##"${6:+bbb}"##, r##""##),
    (r##"${6:-bbb}"##, r##"bbb"##),
    (r##"$7"##, r##""##),
    (r##"${7}"##, r##""##),
    (r##"${7:+bbb}"##, r##""##),
    (r##"${7:-bbb}"##, r##"bbb"##),
    (r##"$8"##, r##""##),
    (r##"${8}"##, r##""##),
    (r##"${8:+bbb}"##, r##""##),
    (r##"${8:-bbb}"##, r##"bbb"##),
    (r##"$9"##, r##""##),
    (r##"${9}"##, r##""##),
    (r##"${9:+bbb}"##, r##""##),
    (r##"${9:-bbb}"##, r##"bbb"##),
    (r##"$999"##, r##""##),
    (r##"${999}"##, r##""##),
    (r##"${999:+bbb}"##, r##""##),
    (r##"${999:-bbb}"##, r##"bbb"##),
    (r##"$999aaa"##, r##"aaa"##),
    (r##"${999}aaa"##, r##"aaa"##),
    (r##"${999:+bbb}aaa"##, r##"aaa"##),
    (r##"${999:-bbb}aaa"##, r##"bbbaaa"##),
    (r##"$001"##, r##""##),
    (r##"${001}"##, r##""##),
    (r##"${001:+bbb}"##, r##""##),
    (r##"${001:-bbb}"##, r##"bbb"##),
    (r##"$001aaa"##, r##"aaa"##),
    (r##"${001}aaa"##, r##"aaa"##),
    (r##"${001:+bbb}aaa"##, r##"aaa"##),
    (r##"${001:-bbb}aaa"##, r##"bbbaaa"##),
    (r##"$@"##, r##""##),
    (r##"${@}"##, r##""##),
    (r##"${@:+bbb}"##, r##""##),
    (r##"${@:-bbb}"##, r##"bbb"##),
    (r##"$@@@"##, r##"@@"##),
    (r##"$@aaa"##, r##"aaa"##),
    (r##"${@}aaa"##, r##"aaa"##),
    (r##"${@:+bbb}aaa"##, r##"aaa"##),
    (r##"${@:-bbb}aaa"##, r##"bbbaaa"##),
    (r##"$*"##, r##""##),
    (r##"${*}"##, r##""##),
    (r##"${*:+bbb}"##, r##""##),
    (r##"${*:-bbb}"##, r##"bbb"##),
    (r##"$#"##, r##""##),
    (r##"${#}"##, r##""##),
    (r##"${#:+bbb}"##, r##""##),
    (r##"${#:-bbb}"##, r##"bbb"##),
    (r##"$?"##, r##""##),
    (r##"${?}"##, r##""##),
    (r##"${?:+bbb}"##, r##""##),
    (r##"${?:-bbb}"##, r##"bbb"##),
    (r##"$-"##, r##""##),
    (r##"${-}"##, r##""##),
    (r##"${-:+bbb}"##, r##""##),
    (r##"${-:-bbb}"##, r##"bbb"##),
    (r##"$$"##, r##""##),
    (r##"${$}"##, r##""##),
    (r##"${$:+bbb}"##, r##""##),
    (r##"${$:-bbb}"##, r##"bbb"##),
    (r##"$!"##, r##""##),
    (r##"${!}"##, r##""##),
    (r##"${!:+bbb}"##, r##""##),
    (r##"${!:-bbb}"##, r##"bbb"##),
    (r##"$0"##, r##""##),
    (r##"${0}"##, r##""##),
    (r##"${0:+bbb}"##, r##""##),
    (r##"${0:-bbb}"##, r##"bbb"##),
];

#[test]
fn buildkit_word_vectors() {
    let lookup = env(&[
        ("PWD", "/home"),
        ("SHELL", "bash"),
        ("KOREAN", "한국어"),
        ("NULL", ""),
    ]);
    let mut failures = Vec::new();
    for (input, expected) in WORD_VECTORS {
        let got = expand(input, '\\', &lookup);
        let ok = match (&got, *expected) {
            (Err(_), "error") => true,
            (Ok(s), e) => s == e,
            _ => false,
        };
        if !ok {
            failures.push(format!("{input:?}: expected {expected:?}, got {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// (env "K=V" lines in effect, input, expected words or ["error"]).
const WORDS_VECTORS: &[(&[&str], &str, &[&str])] = &[
    (&[], r##"hello"##, &[r##"hello"##]),
    (&[], r##"hello${hi}bye"##, &[r##"hellobye"##]),
    (&[r##"hi=hi"##], r##"hello${hi}bye"##, &[r##"hellohibye"##]),
    (
        &[r##"hi=hi"##, r##"space=abc  def"##],
        r##"hello${space}bye"##,
        &[r##"helloabc"##, r##"defbye"##],
    ),
    (
        &[r##"hi=hi"##, r##"space=abc  def"##],
        r##"hello"${space}"bye"##,
        &[r##"helloabc  defbye"##],
    ),
    (
        &[r##"hi=hi"##, r##"space=abc  def"##],
        r##"hello "${space}"bye"##,
        &[r##"hello"##, r##"abc  defbye"##],
    ),
    (
        &[r##"hi=hi"##, r##"space=abc  def"##, r##"leading=  ab c"##],
        r##"hello${leading}def"##,
        &[r##"hello"##, r##"ab"##, r##"cdef"##],
    ),
    (
        &[r##"hi=hi"##, r##"space=abc  def"##, r##"leading=  ab c"##],
        r##"hello"${leading}" def"##,
        &[r##"hello  ab c"##, r##"def"##],
    ),
    (
        &[r##"hi=hi"##, r##"space=abc  def"##, r##"leading=  ab c"##],
        r##"hello"${leading}""##,
        &[r##"hello  ab c"##],
    ),
    (
        &[r##"hi=hi"##, r##"space=abc  def"##, r##"leading=  ab c"##],
        r##"hello${leading}"##,
        &[r##"hello"##, r##"ab"##, r##"c"##],
    ),
    (
        &[
            r##"hi=hi"##,
            r##"space=abc  def"##,
            r##"leading=  ab c"##,
            r##"trailing=ab c   "##,
        ],
        r##"hello${trailing}"##,
        &[r##"helloab"##, r##"c"##],
    ),
    (
        &[
            r##"hi=hi"##,
            r##"space=abc  def"##,
            r##"leading=  ab c"##,
            r##"trailing=ab c   "##,
        ],
        r##"hello${trailing}d"##,
        &[r##"helloab"##, r##"c"##, r##"d"##],
    ),
    (
        &[
            r##"hi=hi"##,
            r##"space=abc  def"##,
            r##"leading=  ab c"##,
            r##"trailing=ab c   "##,
        ],
        r##"hello"${trailing}"d"##,
        &[r##"helloab c   d"##],
    ),
    (
        &[
            r##"hi=hi"##,
            r##"space=abc  def"##,
            r##"leading=  ab c"##,
            r##"trailing=ab c   "##,
        ],
        r##"hel"lo${trailing}""##,
        &[r##"helloab c   "##],
    ),
    (
        &[
            r##"hi=hi"##,
            r##"space=abc  def"##,
            r##"leading=  ab c"##,
            r##"trailing=ab c   "##,
        ],
        r##"hello" there  ""##,
        &[r##"hello there  "##],
    ),
    (
        &[
            r##"hi=hi"##,
            r##"space=abc  def"##,
            r##"leading=  ab c"##,
            r##"trailing=ab c   "##,
        ],
        r##"hello there"##,
        &[r##"hello"##, r##"there"##],
    ),
    (
        &[
            r##"hi=hi"##,
            r##"space=abc  def"##,
            r##"leading=  ab c"##,
            r##"trailing=ab c   "##,
        ],
        r##"hello\ there"##,
        &[r##"hello there"##],
    ),
    (
        &[
            r##"hi=hi"##,
            r##"space=abc  def"##,
            r##"leading=  ab c"##,
            r##"trailing=ab c   "##,
        ],
        r##"hello" there"##,
        &[r##"error"##],
    ),
    (
        &[
            r##"hi=hi"##,
            r##"space=abc  def"##,
            r##"leading=  ab c"##,
            r##"trailing=ab c   "##,
        ],
        r##"hello\" there"##,
        &[r##"hello""##, r##"there"##],
    ),
    (
        &[
            r##"hi=hi"##,
            r##"space=abc  def"##,
            r##"leading=  ab c"##,
            r##"trailing=ab c   "##,
        ],
        r##"hello"\\there""##,
        &[r##"hello\there"##],
    ),
    (
        &[
            r##"hi=hi"##,
            r##"space=abc  def"##,
            r##"leading=  ab c"##,
            r##"trailing=ab c   "##,
        ],
        r##"hello"\there""##,
        &[r##"hello\there"##],
    ),
    (
        &[
            r##"hi=hi"##,
            r##"space=abc  def"##,
            r##"leading=  ab c"##,
            r##"trailing=ab c   "##,
        ],
        r##"hello'\\there'"##,
        &[r##"hello\\there"##],
    ),
    (
        &[
            r##"hi=hi"##,
            r##"space=abc  def"##,
            r##"leading=  ab c"##,
            r##"trailing=ab c   "##,
        ],
        r##"hello'\there'"##,
        &[r##"hello\there"##],
    ),
    (
        &[
            r##"hi=hi"##,
            r##"space=abc  def"##,
            r##"leading=  ab c"##,
            r##"trailing=ab c   "##,
        ],
        r##"hello'$there'"##,
        &[r##"hello$there"##],
    ),
];

#[test]
fn buildkit_words_vectors() {
    {
        let lex = Lexer::new('\\');
        for (envs, input, expected) in WORDS_VECTORS {
            let pairs: Vec<(&str, &str)> =
                envs.iter().map(|e| e.split_once('=').unwrap()).collect();
            let lookup = env(&pairs);
            let got = lex
                .process_words(input, &lookup)
                .unwrap_or_else(|_| vec!["error".to_string()]);
            assert_eq!(got, *expected, "input {input:?}");
        }
    }
}

#[test]
fn required_variables() {
    let set = env(&[("VAR", "plain"), ("ARG", "x")]);
    let empty = env(&[("VAR", ""), ("ARG", "x")]);
    let unset = env(&[("ARG", "x")]);
    let no_empty = "${VAR:?message here$ARG}";
    let no_unset = "${VAR?message here$ARG}";
    assert_eq!(expand(no_empty, '\\', &set).unwrap(), "plain");
    for lookup in [&empty, &unset] {
        let e = expand(no_empty, '\\', lookup).unwrap_err();
        assert!(e.to_string().contains("VAR: message herex"), "{e}");
    }
    assert_eq!(expand(no_unset, '\\', &set).unwrap(), "plain");
    assert_eq!(expand(no_unset, '\\', &empty).unwrap(), "");
    let e = expand(no_unset, '\\', &unset).unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"failed to process "${VAR?message here$ARG}": VAR: message herex"#
    );
    let e = expand("${VAR?}", '\\', &unset).unwrap_err();
    assert!(
        e.to_string().ends_with("VAR: is not allowed to be unset"),
        "{e}"
    );
}

#[test]
fn patterns_and_replacement() {
    let lookup = env(&[("F", "foo.tar.gz"), ("P", "/a/b/c"), ("S", "a-b-c")]);
    let cases = [
        ("${F%.*}", "foo.tar"),
        ("${F%%.*}", "foo"),
        ("${F#*.}", "tar.gz"),
        ("${F##*.}", "gz"),
        ("${P##*/}", "c"),
        ("${P%/*}", "/a/b"),
        ("${S/-/+}", "a+b-c"),
        ("${S//-/+}", "a+b+c"),
        ("${S//?/x}", "xxxxx"),
        ("${NOPE//*/x}", "x"),
        ("${S/b*/}", "a-"),
        ("${S//\\*/x}", "a-b-c"),
        ("${S/#a/z}", "a-b-c"),
        ("${F%.gz}", "foo.tar"),
        ("${F#nomatch}", "foo.tar.gz"),
    ];
    for (input, want) in cases {
        assert_eq!(expand(input, '\\', &lookup).unwrap(), want, "{input}");
    }
    // Only `*`, `?` and `\\` can be escaped in a pattern.
    for bad in [
        "${F/\\./_}",
        "${F/\\x/y}",
        "${F#\\q}",
        "${F:#x}",
        "${F:%x}",
        "${F:=x}",
        "${F/x",
        "${F",
        "${F:-x",
    ] {
        let r = expand(bad, '\\', &lookup);
        assert!(r.is_err(), "{bad} {r:?}");
    }
}

#[test]
fn backtick_escape_and_skip_unset() {
    let lookup = env(&[("A", "1")]);
    assert_eq!(expand("a`$A\\b", '`', &lookup).unwrap(), "a$A\\b");
    let lex = Lexer {
        raw_quotes: true,
        skip_unset: true,
        ..Lexer::new('\\')
    };
    assert_eq!(
        lex.process_word("'$A' $A $B ${B:-x} ${B/y/z}", &lookup)
            .unwrap(),
        "'$A' 1 $B ${B:-x} ${B/y/z}"
    );
}

#[test]
fn words_keep_text_before_a_modifier() {
    let lookup = env(&[]);
    assert_eq!(
        expand_words("80${X:-80}/tcp 9", '\\', &lookup).unwrap(),
        ["8080/tcp", "9"]
    );
}

#[test]
fn pathological_patterns_are_fast() {
    let long = "a".repeat(2000);
    let lookup = env(&[("L", long.as_str())]);
    // CPU time, not wall time: other jobs on the machine must not fail this test.
    let t = crate::build::dockerfile::thread_cpu_time();
    let out = expand("${L//*a*a*a*a*a*b/x}", '\\', &lookup).unwrap();
    assert_eq!(out, long);
    let used = crate::build::dockerfile::thread_cpu_time() - t;
    assert!(used < std::time::Duration::from_secs(5), "{used:?}");
}
