// `k1s completion bash`: a bash completion script. Verbs and flags are
// static; resource types come from `k1s api-resources -o name` and object
// names from `k1s get TYPE -o jsonpath=...` at completion time, so the
// script always matches the server it talks to.
#include "cli/kubectl_verbs.h"

namespace k1s::cli {

namespace {

const char* kBashScript = R"BASH(# bash completion for k1s                                  -*- shell-script -*-
# Load with:  source <(k1s completion bash)

__k1s_query() {
    # Connection flags already on the line apply to the lookups too.
    local -a conn=()
    local i w
    for ((i = 1; i < ${#COMP_WORDS[@]} - 1; i++)); do
        w=${COMP_WORDS[i]}
        case "$w" in
            -n|--namespace|--kubeconfig|--context|--server|-s|--token)
                conn+=("$w" "${COMP_WORDS[i+1]}") ;;
            --namespace=*|--kubeconfig=*|--context=*|--server=*|--token=*|-A|--all-namespaces)
                conn+=("$w") ;;
        esac
    done
    "${COMP_WORDS[0]}" "$@" "${conn[@]}" --request-timeout=5s 2>/dev/null
}

__k1s_types() {
    __k1s_query api-resources -o name | sed -e 's/\..*$//'
}

__k1s_names() {
    __k1s_query get "$1" -o 'jsonpath={range .items[*]}{.metadata.name}{"\n"}{end}'
}

__k1s_verb() {
    local i w
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        case "$w" in
            -n|--namespace|--kubeconfig|--context|--server|-s|--token|-o|--output|-l|--selector|-c|--container|-f|--filename|--for|--replicas|--tail|--since|--timeout|--to-revision|--revision)
                ((i++)) ;;
            -*) ;;
            *) echo "$w"; return ;;
        esac
    done
}

# Positional words after the verb (flags and their values skipped).
__k1s_args() {
    local i w seen=""
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        case "$w" in
            -n|--namespace|--kubeconfig|--context|--server|-s|--token|-o|--output|-l|--selector|-c|--container|-f|--filename|--for|--replicas|--tail|--since|--timeout|--to-revision|--revision)
                ((i++)) ;;
            -*) ;;
            *) if [[ -z $seen ]]; then seen=1; else echo "$w"; fi ;;
        esac
    done
}

_k1s() {
    local cur prev verb
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    COMPREPLY=()
    local verbs="annotate api-resources apply attach completion create delete describe diff edit exec explain expose get label logs patch port-forward proxy rollout scale version wait image server"
    local common="--namespace= --all-namespaces --kubeconfig= --context= --server= --token= --insecure-skip-tls-verify --request-timeout= --help"

    case "$prev" in
        -n|--namespace)
            COMPREPLY=($(compgen -W "$(__k1s_names namespaces)" -- "$cur")); return ;;
        -o|--output)
            COMPREPLY=($(compgen -W "json yaml wide name jsonpath= jsonpath-file= custom-columns= custom-columns-file=" -- "$cur"))
            compopt -o nospace 2>/dev/null; return ;;
        -f|--filename)
            COMPREPLY=($(compgen -f -- "$cur")); compopt -o filenames 2>/dev/null; return ;;
        -c|--container|--replicas|--tail|--since|--timeout|-l|--selector|--to-revision|--revision|--for)
            return ;;
    esac

    verb=$(__k1s_verb)
    if [[ -z $verb ]]; then
        if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "$common" -- "$cur")); else COMPREPLY=($(compgen -W "$verbs" -- "$cur")); fi
        return
    fi

    local flags="$common"
    case "$verb" in
        get) flags+=" --output= --selector= --field-selector= --watch --watch-only --show-labels --show-kind --no-headers --allow-missing-template-keys= --filename=" ;;
        describe) flags+=" --selector= --show-events= --filename=" ;;
        delete) flags+=" --selector= --all --force --grace-period= --now --cascade= --ignore-not-found --wait= --dry-run= --filename=" ;;
        apply|create|diff) flags+=" --filename= --recursive --dry-run= --server-side --force-conflicts --output=" ;;
        logs) flags+=" --follow --previous --container= --tail= --since= --since-time= --timestamps --selector= --all-containers --prefix --max-log-requests= --ignore-errors --limit-bytes=" ;;
        scale) flags+=" --replicas= --current-replicas= --resource-version= --dry-run= --filename=" ;;
        rollout) flags+=" --revision= --to-revision= --timeout= --watch= --dry-run=" ;;
        wait) flags+=" --for= --timeout= --selector= --all --filename=" ;;
        edit) flags+=" --filename=" ;;
        explain) flags+=" --recursive --api-version=" ;;
        label|annotate) flags+=" --overwrite --selector= --all --dry-run= --list" ;;
        patch) flags+=" --patch= --type= --dry-run=" ;;
        exec) flags+=" --stdin --tty --container= --quiet" ;;
        attach) flags+=" --stdin --tty --container= --quiet" ;;
        port-forward) flags+=" --address= --pod-running-timeout=" ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$flags" -- "$cur"))
        [[ ${COMPREPLY[0]} == *= ]] && compopt -o nospace 2>/dev/null
        return
    fi

    local -a args=($(__k1s_args))
    case "$verb" in
        completion) COMPREPLY=($(compgen -W "bash" -- "$cur")); return ;;
        rollout)
            if [[ ${#args[@]} -eq 0 ]]; then
                COMPREPLY=($(compgen -W "history pause restart resume status undo" -- "$cur")); return
            fi
            if [[ $cur == */* ]]; then
                local t=${cur%%/*}
                COMPREPLY=($(compgen -P "$t/" -W "$(__k1s_names "$t")" -- "${cur#*/}"))
            else
                COMPREPLY=($(compgen -W "deployment/" -- "$cur")); compopt -o nospace 2>/dev/null
            fi
            return ;;
        logs|exec|attach|port-forward)
            if [[ ${#args[@]} -eq 0 ]]; then
                if [[ $cur == */* ]]; then
                    local t=${cur%%/*}
                    COMPREPLY=($(compgen -P "$t/" -W "$(__k1s_names "$t")" -- "${cur#*/}"))
                else
                    COMPREPLY=($(compgen -W "$(__k1s_names pods)" -- "$cur"))
                fi
            fi
            return ;;
        version|api-resources|proxy|image|server) return ;;
    esac
    # TYPE, then NAMEs of that type; TYPE/NAME completes the name part.
    if [[ $cur == */* ]]; then
        local t=${cur%%/*}
        COMPREPLY=($(compgen -P "$t/" -W "$(__k1s_names "$t")" -- "${cur#*/}"))
        return
    fi
    if [[ ${#args[@]} -eq 0 ]]; then
        COMPREPLY=($(compgen -W "$(__k1s_types)" -- "$cur"))
    elif [[ ${args[0]} != */* ]]; then
        COMPREPLY=($(compgen -W "$(__k1s_names "${args[0]}")" -- "$cur"))
    fi
}

complete -o default -F _k1s k1s
)BASH";

}  // namespace

int cmdCompletion(Kubectl& k) {
  auto& pos = k.args.positional;
  if (pos.empty()) throw CliError("error: Shell not specified.\nSee 'k1s completion -h' for help and examples");
  if (pos.size() > 1) throw CliError("error: Too many arguments. Expected only the shell type.\nSee 'k1s completion -h' for help and examples");
  if (pos[0] != "bash") throw CliError("error: Unsupported shell type \"" + pos[0] + "\".");
  k.out << kBashScript;
  return 0;
}

}  // namespace k1s::cli
